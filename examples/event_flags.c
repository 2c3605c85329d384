/*
 * Event flags (an RTOS "event group"): bits that threads set, clear and wait
 * for, any of them or all of them.
 *
 *   event_flags [READINGS]          (default 1000 per sensor)
 *
 * Three sensor threads warm up, each announcing it is ready with its READY
 * bit. The main thread waits for ANY ready bit (the first sensor up), then
 * for ALL of them. Then each sensor delivers READINGS values: it stores a
 * value, sets its DATA bit and waits for its ACK bit. The main thread waits
 * for ANY data bit with CONC_FLAGS_CLEAR: the bits it matched are cleared
 * atomically as the wait returns, so each delivery is consumed exactly once
 * and no set can slip in between the wait and a separate clear.
 *
 * Flags are bits, not counters: two sets of a bit before anybody waits are
 * seen as one. That is why each sensor waits for its ACK before the next
 * reading (a queue, conc/queue.h, is the tool when values must pile up).
 * The program checks that every reading arrived exactly once.
 */
#include <stdio.h>
#include <stdlib.h>

#include <conc.h>

#define SENSORS 3
#define READY(i) (1u << (i))
#define DATA(i) (1u << (8 + (i)))
#define ACK(i) (1u << (16 + (i)))
#define ALL_READY (READY(0) | READY(1) | READY(2))
#define ALL_DATA (DATA(0) | DATA(1) | DATA(2))

struct sensor {
    conc_flags_t *flags;
    int id;
    long readings;
    long value; /* written before DATA is set, read by main before ACK */
};

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", what, conc_strerror(rc));
        exit(1);
    }
}

static void *sensor_main(void *arg)
{
    struct sensor *s = arg;

    conc_sleep(CONC_MS(2 + 3 * s->id)); /* warming up, the first one is quickest */
    check(conc_flags_set(s->flags, READY(s->id)), "conc_flags_set");
    for (long k = 1; k <= s->readings; k++) {
        s->value = 1000 * s->id + k;
        check(conc_flags_set(s->flags, DATA(s->id)), "conc_flags_set");
        /* Consume our ACK (clear on exit) so the next reading waits anew. */
        check(conc_flags_wait(s->flags, ACK(s->id), CONC_FLAGS_ANY | CONC_FLAGS_CLEAR, NULL,
                              CONC_FOREVER),
              "conc_flags_wait");
    }
    return NULL;
}

int main(int argc, char **argv)
{
    conc_flags_t flags = CONC_FLAGS_INIT;
    struct sensor sensors[SENSORS];
    conc_thread_t threads[SENSORS];
    long readings = argc > 1 ? atol(argv[1]) : 1000;
    long count[SENSORS] = { 0 }, sum[SENSORS] = { 0 };
    uint32_t value;

    if (argc > 2 || readings < 1) {
        fprintf(stderr, "usage: %s [READINGS]\n", argv[0]);
        return 2;
    }
    /* A bit nobody sets: the wait times out (never before its deadline). */
    int rc = conc_flags_wait(&flags, 1u << 30, CONC_FLAGS_ALL, NULL, CONC_MS(5));
    printf("waiting 5 ms for bit 30, which nobody sets: %s\n", conc_strerror_name(rc));
    if (rc != CONC_ETIMEDOUT)
        return 1;

    for (int i = 0; i < SENSORS; i++) {
        sensors[i] = (struct sensor){ &flags, i, readings, 0 };
        check(conc_thread_create(&threads[i], NULL, sensor_main, &sensors[i]),
              "conc_thread_create");
    }
    check(conc_flags_wait(&flags, ALL_READY, CONC_FLAGS_ANY, &value, CONC_FOREVER), "wait any");
    printf("ANY: first sensor ready (flags 0x%06x)\n", value);
    check(conc_flags_wait(&flags, ALL_READY, CONC_FLAGS_ALL, &value, CONC_FOREVER), "wait all");
    printf("ALL: every sensor ready (flags 0x%06x)\n", value);

    for (long received = 0; received < SENSORS * readings;) {
        /* value receives the flags as they were when the wait was satisfied,
         * before our CLEAR removed the DATA bits we are now handling. */
        check(conc_flags_wait(&flags, ALL_DATA, CONC_FLAGS_ANY | CONC_FLAGS_CLEAR, &value,
                              CONC_FOREVER),
              "wait data");
        for (int i = 0; i < SENSORS; i++) {
            if (!(value & DATA(i)))
                continue;
            sum[i] += sensors[i].value;
            count[i]++;
            received++;
            check(conc_flags_set(&flags, ACK(i)), "conc_flags_set");
        }
    }
    for (int i = 0; i < SENSORS; i++)
        check(conc_thread_join(&threads[i], NULL, CONC_FOREVER), "conc_thread_join");
    check(conc_flags_destroy(&flags), "conc_flags_destroy");

    int ok = 1;
    for (int i = 0; i < SENSORS; i++) {
        long expected = 1000 * i * readings + readings * (readings + 1) / 2;
        printf("sensor %d: %ld readings, sum %ld (expected %ld)\n", i, count[i], sum[i], expected);
        ok &= count[i] == readings && sum[i] == expected;
    }
    if (!ok) {
        printf("event flags FAILED\n");
        return 1;
    }
    printf("every reading arrived exactly once\n");
    return 0;
}
