/*
 * Threads (conc/thread.h): create, join, detach, identity, names, current,
 * main and foreign threads, enumeration and the exit hook (conc_tls_* is
 * tested in test_tls.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conc/thread.h"
#include "core/thread_internal.h"
#include "helpers.h"
#include "os/os.h"

/* ---- small tools -------------------------------------------------------- */

static void *return_arg(void *arg)
{
    return arg;
}

static void *wait_gate(void *arg)
{
    test_gate_wait(arg);
    return arg;
}

static void wait_until_dead(const conc_thread_t *t)
{
    while (conc_thread_is_alive(t))
        conc_sleep(CONC_US(100));
}

/* The kernel's name of a thread of this process; false when /proc has none. */
static bool os_thread_name(uint64_t tid, char *buf, size_t size)
{
    char path[64];
    FILE *f;

    snprintf(path, sizeof path, "/proc/self/task/%llu/comm", (unsigned long long)tid);
    f = fopen(path, "r");
    if (!f)
        return false;
    if (!fgets(buf, (int)size, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return true;
}

static bool have_proc_tasks(void)
{
    return access("/proc/self/task", R_OK) == 0;
}

static bool enumerate_contains(uint64_t ident)
{
    conc_thread_t all[256];
    int n = conc_thread_enumerate(all, 256);

    assert_true(n >= 0 && n <= 256);
    for (int i = 0; i < n; i++) {
        if (conc_thread_ident(&all[i]) == ident)
            return true;
    }
    return false;
}

/* ---- create -------------------------------------------------------------- */

static void create_and_join_deliver_the_result(void **state)
{
    conc_thread_t t;
    void *result = NULL;
    int x;

    assert_rc(0, conc_thread_create(&t, NULL, return_arg, &x));
    assert_rc(0, conc_thread_join(&t, &result, CONC_FOREVER));
    assert_ptr_equal(&x, result);
}

static void create_rejects_a_null_handle_or_function(void **state)
{
    conc_thread_t t = CONC_THREAD_INIT;
    int before = conc_thread_active_count();

    assert_rc(CONC_EINVAL, conc_thread_create(NULL, NULL, return_arg, NULL));
    assert_rc(CONC_EINVAL, conc_thread_create(&t, NULL, NULL, NULL));
    assert_int_equal(0, conc_thread_ident(&t));
    assert_int_equal(before, conc_thread_active_count());
}

static void create_rejects_a_stack_below_the_minimum(void **state)
{
    conc_thread_attr_t attr = CONC_THREAD_ATTR_INIT;
    conc_thread_t t = CONC_THREAD_INIT;

    assert_true(CONC_THREAD_STACK_MIN >= 16384);
    attr.stack_size = CONC_THREAD_STACK_MIN - 1;
    assert_rc(CONC_EINVAL, conc_thread_create(&t, &attr, return_arg, NULL));
    attr.stack_size = 1;
    assert_rc(CONC_EINVAL, conc_thread_create(&t, &attr, return_arg, NULL));
    assert_int_equal(0, conc_thread_ident(&t));
}

static void *use_stack(void *arg)
{
    volatile char buf[8192];

    for (size_t i = 0; i < sizeof buf; i += 512)
        buf[i] = (char)(i / 512);
    return (void *)(uintptr_t)buf[512];
}

static void create_runs_on_the_minimum_and_on_a_large_odd_stack(void **state)
{
    size_t sizes[] = { CONC_THREAD_STACK_MIN + 0, 4u * 1024 * 1024 + 123 };

    for (int i = 0; i < 2; i++) {
        conc_thread_attr_t attr = CONC_THREAD_ATTR_INIT;
        conc_thread_t t;
        void *result;

        attr.stack_size = sizes[i];
        assert_rc(0, conc_thread_create(&t, &attr, use_stack, NULL));
        assert_rc(0, conc_thread_join(&t, &result, CONC_FOREVER));
        assert_int_equal(1, (uintptr_t)result);
    }
}

static void create_returns_elimit_when_the_os_cannot_provide_the_stack(void **state)
{
    conc_thread_attr_t attr = CONC_THREAD_ATTR_INIT;
    conc_thread_t t = CONC_THREAD_INIT;
    int before = conc_thread_active_count();

    /* Three quarters of the address space (32 or 64 bits): a valid size, but
     * no process can map it, so the OS refuses for lack of resources. */
    attr.stack_size = SIZE_MAX - SIZE_MAX / 4;
    assert_rc(CONC_ELIMIT, conc_thread_create(&t, &attr, return_arg, NULL));
    attr.detached = true;
    assert_rc(CONC_ELIMIT, conc_thread_create(&t, &attr, return_arg, NULL));
    assert_int_equal(0, conc_thread_ident(&t));
    assert_int_equal(before, conc_thread_active_count());
}

static void *compare_with_own_handle(void *arg)
{
    conc_thread_t *mine = arg, self = conc_thread_current();

    return (void *)(uintptr_t)(conc_thread_ident(mine) == conc_thread_ident(&self));
}

static void the_handle_is_set_before_the_new_thread_starts(void **state)
{
    for (int i = 0; i < 20; i++) {
        conc_thread_t t;
        void *same;

        assert_rc(0, conc_thread_create(&t, NULL, compare_with_own_handle, &t));
        assert_rc(0, conc_thread_join(&t, &same, CONC_FOREVER));
        assert_int_equal(1, (uintptr_t)same);
    }
}

/* ---- names ----------------------------------------------------------------- */

struct named {
    struct test_gate release, ready;
    char seen_by_os[32];
    bool have_proc;
};

static void *read_own_os_name(void *arg)
{
    struct named *n = arg;
    conc_thread_t self = conc_thread_current();

    n->have_proc =
        os_thread_name(conc_thread_native_id(&self), n->seen_by_os, sizeof n->seen_by_os);
    test_gate_wait(&n->release);
    return NULL;
}

static void name_is_visible_to_the_os(void **state)
{
    conc_thread_attr_t attr = CONC_THREAD_ATTR_INIT;
    struct named n = { 0 };
    char buf[CONC_THREAD_NAME_MAX], os[32];
    conc_thread_t t;

    if (!have_proc_tasks())
        skip();
    attr.name = "conc-worker-1";
    assert_rc(0, conc_thread_create(&t, &attr, read_own_os_name, &n));
    /* native_id() waits until the thread ran, and it names itself first. */
    assert_true(os_thread_name(conc_thread_native_id(&t), os, sizeof os));
    assert_string_equal("conc-worker-1", os);
    assert_rc(0, conc_thread_name(&t, buf, sizeof buf));
    assert_string_equal("conc-worker-1", buf);
    test_gate_open(&n.release);
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    assert_true(n.have_proc);
    assert_string_equal("conc-worker-1", n.seen_by_os);
}

static void a_long_name_is_kept_by_libconc_and_cut_for_the_os(void **state)
{
    static const char long_name[] = "a-thread-name-much-longer-than-fifteen-bytes";
    conc_thread_attr_t attr = CONC_THREAD_ATTR_INIT;
    struct named n = { 0 };
    char buf[CONC_THREAD_NAME_MAX], small[6];
    conc_thread_t t;

    attr.name = long_name;
    assert_rc(0, conc_thread_create(&t, &attr, read_own_os_name, &n));
    assert_rc(0, conc_thread_name(&t, buf, sizeof buf));
    assert_string_equal(long_name, buf);
    assert_rc(0, conc_thread_name(&t, small, sizeof small));
    assert_string_equal("a-thr", small);
    test_gate_open(&n.release);
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    if (n.have_proc)
        assert_string_equal("a-thread-name-m", n.seen_by_os);
}

static void names_longer_than_the_maximum_are_cut(void **state)
{
    char name[CONC_THREAD_NAME_MAX + 20], buf[CONC_THREAD_NAME_MAX + 20];
    conc_thread_attr_t attr = CONC_THREAD_ATTR_INIT;
    struct test_gate g = { 0 };
    conc_thread_t t;

    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    attr.name = name;
    assert_rc(0, conc_thread_create(&t, &attr, wait_gate, &g));
    assert_rc(0, conc_thread_name(&t, buf, sizeof buf));
    assert_int_equal(CONC_THREAD_NAME_MAX - 1, strlen(buf));
    test_gate_open(&g);
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
}

static void unnamed_threads_are_called_thread_and_their_ident(void **state)
{
    conc_thread_attr_t attr = CONC_THREAD_ATTR_INIT;
    char buf[CONC_THREAD_NAME_MAX], expect[CONC_THREAD_NAME_MAX];
    struct test_gate g = { 0 };
    conc_thread_t t;

    attr.name = ""; /* same as NULL */
    assert_rc(0, conc_thread_create(&t, &attr, wait_gate, &g));
    snprintf(expect, sizeof expect, "Thread-%llu", (unsigned long long)conc_thread_ident(&t));
    assert_rc(0, conc_thread_name(&t, buf, sizeof buf));
    assert_string_equal(expect, buf);
    test_gate_open(&g);
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
}

static void name_rejects_bad_arguments_and_gone_threads(void **state)
{
    conc_thread_t empty = CONC_THREAD_INIT, t;
    char buf[8] = "keep";

    assert_rc(0, conc_thread_create(&t, NULL, return_arg, NULL));
    assert_rc(CONC_EINVAL, conc_thread_name(NULL, buf, sizeof buf));
    assert_rc(CONC_EINVAL, conc_thread_name(&t, NULL, sizeof buf));
    assert_rc(CONC_EINVAL, conc_thread_name(&t, buf, 0));
    assert_rc(CONC_EINVAL, conc_thread_name(&empty, buf, sizeof buf));
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    assert_rc(CONC_ESRCH, conc_thread_name(&t, buf, sizeof buf));
    assert_string_equal("keep", buf);
}

static void *rename_self(void *arg)
{
    struct named *n = arg;
    conc_thread_t self = conc_thread_current();

    assert_rc(CONC_EINVAL, conc_thread_set_name_current(NULL));
    assert_rc(0, conc_thread_set_name_current("renamed"));
    n->have_proc =
        os_thread_name(conc_thread_native_id(&self), n->seen_by_os, sizeof n->seen_by_os);
    test_gate_open(&n->ready);
    test_gate_wait(&n->release);
    return NULL;
}

static void set_name_current_renames_for_libconc_and_the_os(void **state)
{
    struct named n = { 0 };
    char buf[CONC_THREAD_NAME_MAX];
    conc_thread_t t;

    assert_rc(0, conc_thread_create(&t, NULL, rename_self, &n));
    test_gate_wait(&n.ready);
    assert_rc(0, conc_thread_name(&t, buf, sizeof buf));
    assert_string_equal("renamed", buf);
    test_gate_open(&n.release);
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    if (n.have_proc)
        assert_string_equal("renamed", n.seen_by_os);
}

/* ---- join ---------------------------------------------------------------- */

static void join_with_a_timeout_times_out_not_early_and_leaves_the_thread_joinable(void **state)
{
    struct test_gate g = { 0 };
    conc_thread_t t;
    void *result = NULL;
    int64_t start;

    assert_rc(0, conc_thread_create(&t, NULL, wait_gate, &g));
    start = conc_now_ns();
    assert_rc(CONC_ETIMEDOUT, conc_thread_join(&t, &result, CONC_MS(20)));
    assert_true(conc_now_ns() - start >= CONC_MS(20));
    assert_null(result);
    assert_true(conc_thread_is_alive(&t));
    test_gate_open(&g);
    assert_rc(0, conc_thread_join(&t, &result, CONC_SEC(30)));
    assert_ptr_equal(&g, result);
}

static void join_nowait_on_a_running_thread_returns_eagain(void **state)
{
    struct test_gate g = { 0 };
    conc_thread_t t;

    assert_rc(0, conc_thread_create(&t, NULL, wait_gate, &g));
    assert_rc(CONC_EAGAIN, conc_thread_join(&t, NULL, CONC_NOWAIT));
    test_gate_open(&g);
    wait_until_dead(&t);
    assert_rc(0, conc_thread_join(&t, NULL, CONC_NOWAIT));
}

static void *join_self(void *arg)
{
    conc_thread_t self = conc_thread_current();

    return (void *)(intptr_t)conc_thread_join(&self, NULL, CONC_FOREVER);
}

static void join_of_the_calling_thread_returns_edeadlk(void **state)
{
    conc_thread_t t, main_thread = conc_thread_main();
    void *result;

    assert_rc(0, conc_thread_create(&t, NULL, join_self, NULL));
    assert_rc(0, conc_thread_join(&t, &result, CONC_FOREVER));
    assert_rc(CONC_EDEADLK, (int)(intptr_t)result);
    /* The test runs in the main thread. */
    assert_rc(CONC_EDEADLK, conc_thread_join(&main_thread, NULL, CONC_FOREVER));
}

static void join_of_a_detached_thread_returns_einval(void **state)
{
    conc_thread_attr_t attr = CONC_THREAD_ATTR_INIT;
    struct test_gate g = { 0 };
    conc_thread_t t;

    attr.detached = true;
    assert_rc(0, conc_thread_create(&t, &attr, wait_gate, &g));
    assert_rc(CONC_EINVAL, conc_thread_join(&t, NULL, CONC_FOREVER));
    test_gate_open(&g);
    wait_until_dead(&t);
    assert_rc(CONC_EINVAL, conc_thread_join(&t, NULL, CONC_FOREVER));
}

static void join_of_an_already_joined_thread_returns_einval(void **state)
{
    conc_thread_t t, copy;
    void *result = &result;

    assert_rc(0, conc_thread_create(&t, NULL, return_arg, NULL));
    copy = t;
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    assert_rc(CONC_EINVAL, conc_thread_join(&t, &result, CONC_FOREVER));
    assert_rc(CONC_EINVAL, conc_thread_join(&copy, &result, CONC_NOWAIT));
    assert_ptr_equal(&result, result);
}

static void join_of_no_thread_returns_einval(void **state)
{
    conc_thread_t empty = CONC_THREAD_INIT;

    assert_rc(CONC_EINVAL, conc_thread_join(NULL, NULL, CONC_FOREVER));
    assert_rc(CONC_EINVAL, conc_thread_join(&empty, NULL, CONC_FOREVER));
}

struct joiner {
    conc_thread_t *t;
    int rc;
    void *result;
};

static void *join_it(void *arg)
{
    struct joiner *j = arg;

    j->rc = conc_thread_join(j->t, &j->result, CONC_FOREVER);
    return NULL;
}

/* How many threads are blocked in (or leaving) a join of t. */
static uint32_t joiners_of(conc_thread_t *t)
{
    conc__thread_rec_t *rec = conc__thread_rec_lock(t);
    uint32_t n = rec->joiners;

    conc__os_unlock(&rec->lock);
    return n;
}

static void threads_blocked_in_join_together_all_get_the_result(void **state)
{
    struct test_gate g = { 0 };
    struct joiner j[3];
    conc_thread_t t, joiners[3];

    assert_rc(0, conc_thread_create(&t, NULL, wait_gate, &g));
    for (int i = 0; i < 3; i++) {
        j[i] = (struct joiner){ &t, 1, NULL };
        assert_rc(0, conc_thread_create(&joiners[i], NULL, join_it, &j[i]));
    }
    while (joiners_of(&t) != 3)
        conc_sleep(CONC_US(100));
    test_gate_open(&g);
    for (int i = 0; i < 3; i++) {
        assert_rc(0, conc_thread_join(&joiners[i], NULL, CONC_FOREVER));
        assert_rc(0, j[i].rc);
        assert_ptr_equal(&g, j[i].result);
    }
    assert_rc(CONC_EINVAL, conc_thread_join(&t, NULL, CONC_NOWAIT));
}

/* ---- detach ------------------------------------------------------------- */

static void detach_lets_a_running_thread_clean_up_by_itself(void **state)
{
    struct test_gate g = { 0 };
    conc_thread_t t;
    int before = conc_thread_active_count();

    assert_rc(0, conc_thread_create(&t, NULL, wait_gate, &g));
    assert_rc(0, conc_thread_detach(&t));
    assert_rc(CONC_EINVAL, conc_thread_detach(&t));
    assert_rc(CONC_EINVAL, conc_thread_join(&t, NULL, CONC_NOWAIT));
    test_gate_open(&g);
    wait_until_dead(&t);
    assert_int_equal(before, conc_thread_active_count());
    assert_int_equal(0, conc_thread_native_id(&t));
    assert_rc(CONC_EINVAL, conc_thread_detach(&t));
}

static void detach_of_an_ended_thread_reclaims_it_at_once(void **state)
{
    conc_thread_t t;
    char buf[32];

    assert_rc(0, conc_thread_create(&t, NULL, return_arg, NULL));
    wait_until_dead(&t);
    assert_rc(0, conc_thread_name(&t, buf, sizeof buf)); /* kept for join */
    assert_true(conc_thread_native_id(&t) != 0);
    assert_rc(0, conc_thread_detach(&t));
    assert_rc(CONC_ESRCH, conc_thread_name(&t, buf, sizeof buf));
    assert_rc(CONC_EINVAL, conc_thread_join(&t, NULL, CONC_FOREVER));
}

static void detach_after_join_or_of_no_thread_returns_einval(void **state)
{
    conc_thread_t t, empty = CONC_THREAD_INIT, main_thread = conc_thread_main();

    assert_rc(0, conc_thread_create(&t, NULL, return_arg, NULL));
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    assert_rc(CONC_EINVAL, conc_thread_detach(&t));
    assert_rc(CONC_EINVAL, conc_thread_detach(NULL));
    assert_rc(CONC_EINVAL, conc_thread_detach(&empty));
    assert_rc(CONC_EINVAL, conc_thread_detach(&main_thread));
}

static void detach_with_a_blocked_joiner_returns_ebusy(void **state)
{
    struct test_gate g = { 0 };
    conc_thread_t t, joiner;
    struct joiner j = { &t, 1, NULL };

    assert_rc(0, conc_thread_create(&t, NULL, wait_gate, &g));
    assert_rc(0, conc_thread_create(&joiner, NULL, join_it, &j));
    while (joiners_of(&t) != 1)
        conc_sleep(CONC_US(100));
    assert_rc(CONC_EBUSY, conc_thread_detach(&t));
    test_gate_open(&g);
    assert_rc(0, conc_thread_join(&joiner, NULL, CONC_FOREVER));
    assert_rc(0, j.rc);
    assert_ptr_equal(&g, j.result);
}

static void handles_of_a_detached_thread_stay_safe_after_it_ended(void **state)
{
    conc_thread_attr_t attr = CONC_THREAD_ATTR_INIT;
    conc_thread_t t, copy, others[8];
    char buf[32];

    attr.detached = true;
    assert_rc(0, conc_thread_create(&t, &attr, return_arg, NULL));
    copy = t;
    wait_until_dead(&copy);
    /* Recycle records, likely including this one, then use the stale copies. */
    for (int i = 0; i < 8; i++)
        assert_rc(0, conc_thread_create(&others[i], NULL, return_arg, NULL));
    for (int k = 0; k < 2; k++) {
        conc_thread_t *h = k ? &copy : &t;
        assert_false(conc_thread_is_alive(h));
        assert_int_equal(0, conc_thread_native_id(h));
        assert_rc(CONC_ESRCH, conc_thread_name(h, buf, sizeof buf));
        assert_rc(CONC_EINVAL, conc_thread_join(h, NULL, CONC_FOREVER));
        assert_rc(CONC_EINVAL, conc_thread_detach(h));
    }
    for (int i = 0; i < 8; i++)
        assert_rc(0, conc_thread_join(&others[i], NULL, CONC_FOREVER));
}

/* ---- identity ------------------------------------------------------------- */

static void is_alive_until_the_thread_ended(void **state)
{
    struct test_gate g = { 0 };
    conc_thread_t t;

    assert_rc(0, conc_thread_create(&t, NULL, wait_gate, &g));
    assert_true(conc_thread_is_alive(&t));
    conc_sleep(CONC_MS(2));
    assert_true(conc_thread_is_alive(&t));
    test_gate_open(&g);
    wait_until_dead(&t);
    assert_false(conc_thread_is_alive(&t));
    assert_rc(0, conc_thread_join(&t, NULL, CONC_NOWAIT));
    assert_false(conc_thread_is_alive(&t));
    assert_false(conc_thread_is_alive(NULL));
}

static void idents_are_unique_and_never_reused(void **state)
{
    conc_thread_t t;
    struct conc__thread_rec *first_rec = NULL;
    uint64_t last = 0;
    bool reused = false;

    for (int i = 0; i < 100; i++) {
        assert_rc(0, conc_thread_create(&t, NULL, return_arg, NULL));
        assert_true(conc_thread_ident(&t) > last);
        last = conc_thread_ident(&t);
        if (!first_rec)
            first_rec = t.rec_;
        else
            reused |= t.rec_ == first_rec;
        assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
        assert_int_equal(last, conc_thread_ident(&t)); /* still readable */
    }
    assert_true(reused); /* records were recycled, idents were not */
    assert_int_equal(0, conc_thread_ident(NULL));
}

struct ids {
    uint64_t native;
    uint64_t ident;
};

static void *report_ids(void *arg)
{
    struct ids *ids = arg;
    conc_thread_t self = conc_thread_current();

    ids->native = conc_thread_native_id(&self);
    ids->ident = conc_thread_ident(&self);
    return NULL;
}

static void native_id_is_the_kernel_id_of_the_thread(void **state)
{
    struct ids a = { 0 }, b = { 0 };
    conc_thread_t ta, tb, main_thread = conc_thread_main();

    assert_rc(0, conc_thread_create(&ta, NULL, report_ids, &a));
    assert_rc(0, conc_thread_create(&tb, NULL, report_ids, &b));
    /* Asked at once: waits for the new thread to publish it. */
    uint64_t na = conc_thread_native_id(&ta), nb = conc_thread_native_id(&tb);
    assert_rc(0, conc_thread_join(&ta, NULL, CONC_FOREVER));
    assert_rc(0, conc_thread_join(&tb, NULL, CONC_FOREVER));
    assert_true(na != 0 && na != nb);
    assert_int_equal(a.native, na);
    assert_int_equal(b.native, nb);
    assert_int_equal(conc_thread_ident(&ta), a.ident);
    if (have_proc_tasks()) /* Linux: the main thread's TID is the PID */
        assert_int_equal((uint64_t)getpid(), conc_thread_native_id(&main_thread));
    assert_int_equal(0, conc_thread_native_id(NULL));
}

/* ---- current, main, foreign threads ---------------------------------------- */

static void main_is_the_thread_that_runs_main(void **state)
{
    conc_thread_t me = conc_thread_current(), m = conc_thread_main(), t;
    struct ids seen = { 0 };
    char buf[32];

    assert_int_equal(conc_thread_ident(&m), conc_thread_ident(&me));
    assert_true(conc_thread_is_alive(&m));
    assert_rc(0, conc_thread_name(&m, buf, sizeof buf));
    assert_string_equal("MainThread", buf);
    assert_true(enumerate_contains(conc_thread_ident(&m)));
    assert_rc(0, conc_thread_create(&t, NULL, report_ids, &seen));
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    assert_true(conc_thread_ident(&m) < seen.ident);
}

static void *current_and_main_seen_from_a_thread(void *arg)
{
    conc_thread_t *out = arg, m = conc_thread_main();

    out[0] = conc_thread_current();
    out[1] = m;
    out[2] = conc_thread_current();
    return (void *)(intptr_t)conc_thread_join(&m, NULL, CONC_NOWAIT);
}

static void current_in_a_libconc_thread_is_its_handle(void **state)
{
    conc_thread_t t, seen[3], m = conc_thread_main();
    void *result;

    assert_rc(0, conc_thread_create(&t, NULL, current_and_main_seen_from_a_thread, seen));
    assert_rc(0, conc_thread_join(&t, &result, CONC_FOREVER));
    assert_int_equal(conc_thread_ident(&t), conc_thread_ident(&seen[0]));
    assert_int_equal(conc_thread_ident(&t), conc_thread_ident(&seen[2]));
    assert_int_equal(conc_thread_ident(&m), conc_thread_ident(&seen[1]));
    assert_rc(CONC_EINVAL, (int)(intptr_t)result); /* main is not joinable */
}

struct foreign {
    struct test_gate release;
    _Atomic int registered;
    conc_thread_t self;
    bool listed;
    char name[32];
};

static void *foreign_thread(void *arg)
{
    struct foreign *f = arg;
    conc_thread_t again;

    f->self = conc_thread_current();
    again = conc_thread_current();
    assert_int_equal(conc_thread_ident(&f->self), conc_thread_ident(&again));
    assert_rc(CONC_EINVAL, conc_thread_exit(NULL));
    f->listed = enumerate_contains(conc_thread_ident(&f->self));
    assert_rc(0, conc_thread_name(&f->self, f->name, sizeof f->name));
    atomic_store(&f->registered, 1);
    test_gate_wait(&f->release);
    return NULL;
}

static void current_registers_a_foreign_thread_until_it_exits(void **state)
{
    struct foreign f = { 0 };
    conc__os_thread_t os;
    char expect[32];
    int before = conc_thread_active_count();

    assert_rc(0, conc__os_thread_start(&os, foreign_thread, &f, 0, false));
    while (!atomic_load(&f.registered))
        conc_sleep(CONC_US(100));
    assert_true(f.listed);
    assert_int_equal(before + 1, conc_thread_active_count());
    assert_true(conc_thread_is_alive(&f.self));
    snprintf(expect, sizeof expect, "Dummy-%llu", (unsigned long long)conc_thread_ident(&f.self));
    assert_string_equal(expect, f.name);
    assert_rc(CONC_EINVAL, conc_thread_join(&f.self, NULL, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_thread_detach(&f.self));
    test_gate_open(&f.release);
    assert_rc(0, conc__os_thread_join(os, NULL));
    /* Its exit unregistered it (OS join waits for the TLS destructors). */
    assert_false(conc_thread_is_alive(&f.self));
    assert_int_equal(before, conc_thread_active_count());
}

/* ---- enumeration ----------------------------------------------------------- */

static void enumerate_lists_live_threads_and_matches_active_count(void **state)
{
    struct test_gate g = { 0 };
    conc_thread_t t[4], all[64], me = conc_thread_current();
    int before = conc_thread_active_count();

    for (int i = 0; i < 4; i++)
        assert_rc(0, conc_thread_create(&t[i], NULL, wait_gate, &g));
    assert_int_equal(before + 4, conc_thread_active_count());
    assert_int_equal(before + 4, conc_thread_enumerate(all, 64));
    for (int i = 0; i < 4; i++)
        assert_true(enumerate_contains(conc_thread_ident(&t[i])));
    assert_true(enumerate_contains(conc_thread_ident(&me)));
    test_gate_open(&g);
    for (int i = 0; i < 4; i++) {
        assert_rc(0, conc_thread_join(&t[i], NULL, CONC_FOREVER));
        assert_false(enumerate_contains(conc_thread_ident(&t[i])));
    }
    assert_int_equal(before, conc_thread_active_count());
}

static void enumerate_with_a_small_array_returns_the_full_count(void **state)
{
    struct test_gate g = { 0 };
    conc_thread_t t[3], few[2] = { CONC_THREAD_INIT, CONC_THREAD_INIT };
    int count;

    for (int i = 0; i < 3; i++)
        assert_rc(0, conc_thread_create(&t[i], NULL, wait_gate, &g));
    count = conc_thread_active_count();
    assert_true(count >= 4);
    assert_int_equal(count, conc_thread_enumerate(few, 2));
    assert_true(conc_thread_is_alive(&few[0]) && conc_thread_is_alive(&few[1]));
    assert_int_equal(count, conc_thread_enumerate(NULL, 0));
    assert_rc(CONC_EINVAL, conc_thread_enumerate(NULL, 1));
    test_gate_open(&g);
    for (int i = 0; i < 3; i++)
        assert_rc(0, conc_thread_join(&t[i], NULL, CONC_FOREVER));
}

struct churn {
    _Atomic int *stop;
    _Atomic long created;
};

static void *short_job(void *arg)
{
    conc_thread_yield();
    return arg;
}

static void *churn_threads(void *arg)
{
    struct churn *c = arg;
    conc_thread_attr_t detached = CONC_THREAD_ATTR_INIT;
    conc_thread_t t[4];

    detached.detached = true;
    while (!atomic_load(c->stop)) {
        for (int i = 0; i < 4; i++)
            assert_rc(0, conc_thread_create(&t[i], NULL, short_job, &t[i]));
        assert_rc(0, conc_thread_create(&(conc_thread_t){ 0 }, &detached, short_job, NULL));
        for (int i = 0; i < 4; i++) {
            void *result;
            assert_rc(0, conc_thread_join(&t[i], &result, CONC_FOREVER));
            assert_ptr_equal(&t[i], result);
        }
        atomic_fetch_add(&c->created, 5);
    }
    return NULL;
}

/* At most 2 churners x 5 threads live at once beyond the baseline (plus
 * detached ones still ending, bounded by the churn rate). */
static void enumerate_stays_consistent_while_threads_start_and_stop(void **state)
{
    _Atomic int stop = 0;
    struct churn c[2] = { { &stop, 0 }, { &stop, 0 } };
    conc_thread_t helpers[2], all[256];
    char buf[CONC_THREAD_NAME_MAX];
    int base = conc_thread_active_count();
    int64_t end = conc_now_ns() + CONC_MS(300) * test_stress_scale();
    long snapshots = 0;

    for (int i = 0; i < 2; i++)
        assert_rc(0, conc_thread_create(&helpers[i], NULL, churn_threads, &c[i]));
    /* Until the time is up and both churners went round at least once. */
    while (conc_now_ns() < end || !atomic_load(&c[0].created) || !atomic_load(&c[1].created)) {
        int n = conc_thread_enumerate(all, 256);

        assert_true(n >= base + 2 && n <= 256);
        for (int i = 0; i < n; i++) {
            int rc = conc_thread_name(&all[i], buf, sizeof buf);
            assert_true(rc == 0 || rc == CONC_ESRCH); /* may have ended since */
            for (int k = 0; k < i; k++)
                assert_true(conc_thread_ident(&all[k]) != conc_thread_ident(&all[i]));
        }
        snapshots++;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        assert_rc(0, conc_thread_join(&helpers[i], NULL, CONC_FOREVER));
    while (conc_thread_active_count() != base) /* the last detached ones */
        conc_sleep(CONC_US(200));
    assert_true(snapshots > 0);
}

/* ---- many threads --------------------------------------------------------- */

static void *sum_to(void *arg)
{
    uintptr_t n = (uintptr_t)arg, sum = 0;

    for (uintptr_t i = 1; i <= n; i++)
        sum += i;
    return (void *)sum;
}

static void sixty_four_threads_deliver_exact_results(void **state)
{
    conc_thread_t t[64];

    for (uintptr_t i = 0; i < 64; i++)
        assert_rc(0, conc_thread_create(&t[i], NULL, sum_to, (void *)(i * 1000)));
    for (uintptr_t i = 0; i < 64; i++) {
        void *result;
        assert_rc(0, conc_thread_join(&t[i], &result, CONC_FOREVER));
        assert_int_equal(i * 1000 * (i * 1000 + 1) / 2, (uintptr_t)result);
    }
}

static void *spin_yielding(void *arg)
{
    _Atomic int *turn = arg;

    for (int i = 0; i < 1000; i++)
        conc_thread_yield();
    atomic_fetch_add(turn, 1);
    return NULL;
}

static void yield_lets_other_threads_run(void **state)
{
    _Atomic int done = 0;
    conc_thread_t t[3];

    for (int i = 0; i < 3; i++)
        assert_rc(0, conc_thread_create(&t[i], NULL, spin_yielding, &done));
    for (int i = 0; i < 3; i++)
        assert_rc(0, conc_thread_join(&t[i], NULL, CONC_FOREVER));
    assert_int_equal(3, atomic_load(&done));
}

/* ---- exit hook and conc_thread_exit ------------------------------------------ */

struct hook_log {
    _Atomic int calls;
    uint64_t ident;
    uint64_t current;
    void *result;
    bool alive, listed;
    int join_self;
};

static void record_exit(const conc_thread_t *thread, void *result, void *arg)
{
    struct hook_log *log = arg;
    conc_thread_t self = conc_thread_current();

    log->ident = conc_thread_ident(thread);
    log->current = conc_thread_ident(&self);
    log->result = result;
    log->alive = conc_thread_is_alive(thread);
    log->listed = enumerate_contains(log->ident);
    log->join_self = conc_thread_join(&self, NULL, CONC_NOWAIT);
    atomic_fetch_add(&log->calls, 1);
}

static void exit_hook_runs_in_the_ending_thread_before_join_returns(void **state)
{
    struct hook_log log = { 0 };
    conc_thread_t t;
    int x;

    conc_thread_set_exit_hook(record_exit, &log);
    assert_rc(0, conc_thread_create(&t, NULL, return_arg, &x));
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    conc_thread_set_exit_hook(NULL, NULL);
    assert_int_equal(1, atomic_load(&log.calls));
    assert_int_equal(conc_thread_ident(&t), log.ident);
    assert_int_equal(log.ident, log.current);
    assert_ptr_equal(&x, log.result);
    assert_true(log.alive && log.listed);
    assert_rc(CONC_EDEADLK, log.join_self);
}

static void exit_hook_runs_for_detached_threads(void **state)
{
    conc_thread_attr_t attr = CONC_THREAD_ATTR_INIT;
    struct hook_log log = { 0 };
    conc_thread_t t;

    attr.detached = true;
    conc_thread_set_exit_hook(record_exit, &log);
    assert_rc(0, conc_thread_create(&t, &attr, return_arg, &attr));
    while (atomic_load(&log.calls) == 0)
        conc_sleep(CONC_US(100));
    wait_until_dead(&t);
    conc_thread_set_exit_hook(NULL, NULL);
    assert_int_equal(conc_thread_ident(&t), log.ident);
    assert_ptr_equal(&attr, log.result);
}

static void exit_hook_can_be_read_back_and_removed(void **state)
{
    struct hook_log log = { 0 };
    conc_thread_exit_hook_fn fn = record_exit;
    void *arg = &fn;
    conc_thread_t t;

    conc_thread_get_exit_hook(&fn, &arg);
    assert_null(fn);
    assert_null(arg);
    conc_thread_set_exit_hook(record_exit, &log);
    conc_thread_get_exit_hook(&fn, &arg);
    assert_ptr_equal(record_exit, fn);
    assert_ptr_equal(&log, arg);
    conc_thread_get_exit_hook(NULL, NULL);
    conc_thread_set_exit_hook(NULL, NULL);
    assert_rc(0, conc_thread_create(&t, NULL, return_arg, NULL));
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    assert_int_equal(0, atomic_load(&log.calls));
}

static int exited_tls_value;

struct counter {
    _Atomic int n;
};

static void count_destructor(void *value)
{
    struct counter *c = value;

    atomic_fetch_add(&c->n, 1);
}

struct exit_early {
    conc_tls_key_t key;
    struct counter destroyed;
    bool after;
};

static void *exit_early(void *arg)
{
    struct exit_early *e = arg;

    assert_rc(0, conc_tls_set(e->key, &e->destroyed));
    conc_thread_exit(&exited_tls_value);
    e->after = true; /* never reached */
    return NULL;
}

static void thread_exit_ends_the_thread_with_its_result(void **state)
{
    struct exit_early e = { 0 };
    struct hook_log log = { 0 };
    conc_thread_t t;
    void *result = NULL;
    int before = conc_thread_active_count();

    assert_rc(0, conc_tls_create(&e.key, count_destructor));
    conc_thread_set_exit_hook(record_exit, &log);
    assert_rc(0, conc_thread_create(&t, NULL, exit_early, &e));
    assert_rc(0, conc_thread_join(&t, &result, CONC_FOREVER));
    conc_thread_set_exit_hook(NULL, NULL);
    assert_ptr_equal(&exited_tls_value, result);
    assert_false(e.after);
    assert_int_equal(1, atomic_load(&log.calls));
    assert_ptr_equal(&exited_tls_value, log.result);
    assert_int_equal(1, atomic_load(&e.destroyed.n));
    assert_int_equal(before, conc_thread_active_count());
    assert_rc(0, conc_tls_delete(e.key));
}

static void thread_exit_outside_a_libconc_thread_returns_einval(void **state)
{
    assert_rc(CONC_EINVAL, conc_thread_exit(NULL)); /* the main thread */
}

/* A cancelled task's join leaves the thread joinable. */
static void join_in_a_cancelled_task_returns_ecanceled_and_leaves_it_joinable(void **state)
{
    struct test_task task = { 0 };
    struct test_gate gate = { 0 };
    conc_thread_t t;
    void *result = NULL;
    int rc;

    assert_rc(0, conc_thread_create(&t, NULL, wait_gate, &gate));
    atomic_store(&task.cancelled, true);
    test_task_enter(&task);
    rc = conc_thread_join(&t, &result, CONC_FOREVER);
    test_task_leave(&task);
    assert_rc(CONC_ECANCELED, rc);
    assert_true(conc_thread_is_alive(&t));
    test_gate_open(&gate);
    assert_rc(0, conc_thread_join(&t, &result, CONC_FOREVER));
    assert_ptr_equal(&gate, result);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(join_in_a_cancelled_task_returns_ecanceled_and_leaves_it_joinable),
        cmocka_unit_test(create_and_join_deliver_the_result),
        cmocka_unit_test(create_rejects_a_null_handle_or_function),
        cmocka_unit_test(create_rejects_a_stack_below_the_minimum),
        cmocka_unit_test(create_runs_on_the_minimum_and_on_a_large_odd_stack),
        cmocka_unit_test(create_returns_elimit_when_the_os_cannot_provide_the_stack),
        cmocka_unit_test(the_handle_is_set_before_the_new_thread_starts),
        cmocka_unit_test(name_is_visible_to_the_os),
        cmocka_unit_test(a_long_name_is_kept_by_libconc_and_cut_for_the_os),
        cmocka_unit_test(names_longer_than_the_maximum_are_cut),
        cmocka_unit_test(unnamed_threads_are_called_thread_and_their_ident),
        cmocka_unit_test(name_rejects_bad_arguments_and_gone_threads),
        cmocka_unit_test(set_name_current_renames_for_libconc_and_the_os),
        cmocka_unit_test(join_with_a_timeout_times_out_not_early_and_leaves_the_thread_joinable),
        cmocka_unit_test(join_nowait_on_a_running_thread_returns_eagain),
        cmocka_unit_test(join_of_the_calling_thread_returns_edeadlk),
        cmocka_unit_test(join_of_a_detached_thread_returns_einval),
        cmocka_unit_test(join_of_an_already_joined_thread_returns_einval),
        cmocka_unit_test(join_of_no_thread_returns_einval),
        cmocka_unit_test(threads_blocked_in_join_together_all_get_the_result),
        cmocka_unit_test(detach_lets_a_running_thread_clean_up_by_itself),
        cmocka_unit_test(detach_of_an_ended_thread_reclaims_it_at_once),
        cmocka_unit_test(detach_after_join_or_of_no_thread_returns_einval),
        cmocka_unit_test(detach_with_a_blocked_joiner_returns_ebusy),
        cmocka_unit_test(handles_of_a_detached_thread_stay_safe_after_it_ended),
        cmocka_unit_test(is_alive_until_the_thread_ended),
        cmocka_unit_test(idents_are_unique_and_never_reused),
        cmocka_unit_test(native_id_is_the_kernel_id_of_the_thread),
        cmocka_unit_test(main_is_the_thread_that_runs_main),
        cmocka_unit_test(current_in_a_libconc_thread_is_its_handle),
        cmocka_unit_test(current_registers_a_foreign_thread_until_it_exits),
        cmocka_unit_test(enumerate_lists_live_threads_and_matches_active_count),
        cmocka_unit_test(enumerate_with_a_small_array_returns_the_full_count),
        cmocka_unit_test(enumerate_stays_consistent_while_threads_start_and_stop),
        cmocka_unit_test(sixty_four_threads_deliver_exact_results),
        cmocka_unit_test(yield_lets_other_threads_run),
        cmocka_unit_test(exit_hook_runs_in_the_ending_thread_before_join_returns),
        cmocka_unit_test(exit_hook_runs_for_detached_threads),
        cmocka_unit_test(exit_hook_can_be_read_back_and_removed),
        cmocka_unit_test(thread_exit_ends_the_thread_with_its_result),
        cmocka_unit_test(thread_exit_outside_a_libconc_thread_returns_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
