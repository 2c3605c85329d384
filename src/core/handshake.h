/*
 * The store-then-load handshake between a fast path and a sleeper, made
 * cheap for the fast path. Not installed.
 *
 * A producer publishes an item, then looks whether a consumer sleeps; a
 * consumer about to sleep says so, then looks for an item once more. Each
 * side stores, then loads what the other stored: without a full barrier
 * between its store and its load, both may miss each other (a lost
 * wake-up). The fast path runs per item, the sleeper once per sleep, so the
 * sleeper can pay for both when the OS lets it: it runs a barrier on every
 * running thread of the process (conc__os_process_barrier()), and the fast
 * side's store and load need no barrier instruction, only program order
 * ("light"). Otherwise both sides use sequentially consistent operations.
 *
 * The process barrier is a system call, though: worth it only where the
 * fast side runs on another thread, and only when a sleeper is about to
 * make a system call anyway. The caller (the queue) decides per object
 * whether it is light; this file gives the two sides' operations. The mode
 * is chosen once per process and never changes afterwards, so a fast side
 * that went light always meets a sleeper that can run the barrier.
 */
#ifndef CONC_CORE_HANDSHAKE_H
#define CONC_CORE_HANDSHAKE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* 0 not chosen yet, 1 the process barrier is there, -1 it is not. */
extern _Atomic int conc__handshake_mode;

/* Choose the mode if nobody has; cheap once chosen. Every user calls it
 * before its first fast-side operation. */
void conc__handshake_init(void);

/* Whether skipping the fast side's barrier pays on this CPU (one file per
 * architecture, chosen by meson.build). On x86 a sequentially consistent
 * store is a locked exchange and the light store a plain move; on AArch64,
 * POWER and RISC-V the fast side's sequentially consistent load already
 * orders or fences, so light would save nothing and sleepers would still
 * pay the system call. */
bool conc__handshake_arch_pays(void);

/* Whether a fast side may go light at all (the mode is chosen). */
static inline bool conc__handshake_light_ok(void)
{
    return atomic_load_explicit(&conc__handshake_mode, memory_order_relaxed) == 1;
}

/* The sleeper's side, after its store, before its load: the process
 * barrier when fast sides may be light, else a fence. */
void conc__handshake_sleeper(bool light);

/* The fast side publishes with this store; the load that follows it must be
 * conc__handshake_load(). */
static inline void conc__handshake_store(_Atomic uint64_t *word, uint64_t value, bool light)
{
    if (light)
        atomic_store_explicit(word, value, memory_order_release);
    else
        atomic_store_explicit(word, value, memory_order_seq_cst);
}

/* The fast side's look at the sleeper's flag, after its publishing store(s);
 * the compiler may not move it above them. */
static inline uint32_t conc__handshake_load(const _Atomic uint32_t *flag)
{
    atomic_signal_fence(memory_order_seq_cst);
    return atomic_load_explicit(flag, memory_order_seq_cst);
}

/* After a run of release stores (a batch): the fence a fast side that is
 * not light needs. */
static inline void conc__handshake_after_stores(bool light)
{
    if (!light)
        atomic_thread_fence(memory_order_seq_cst);
}

#endif /* CONC_CORE_HANDSHAKE_H */
