/* The short-piece cache's slots are seqlocks, so that threads share them without a lock.

   A writer makes the slot's version odd (a compare-and-swap: a busy slot is just not
   written), writes, and makes it even again; a reader keeps what it read only if the
   version was even and did not change meanwhile. */
#ifndef BPE_SEQLOCK_H
#define BPE_SEQLOCK_H

#include <stdint.h>

static inline uint32_t bpe_slot_version(const uint32_t* v) {
    return __atomic_load_n(v, __ATOMIC_ACQUIRE);
}

/* Whether what was read since bpe_slot_version returned `seen` is a whole, unchanged slot. */
static inline int bpe_slot_unchanged(const uint32_t* v, uint32_t seen) {
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return !(seen & 1) && __atomic_load_n(v, __ATOMIC_RELAXED) == seen;
}

/* Take the slot for writing: 0 if another thread is writing it (then leave it alone). */
static inline int bpe_slot_lock(uint32_t* v, uint32_t* seen) {
    uint32_t now = __atomic_load_n(v, __ATOMIC_RELAXED);
    *seen = now;
    return !(now & 1) && __atomic_compare_exchange_n(v, &now, now + 1, 0, __ATOMIC_ACQUIRE,
                                                     __ATOMIC_RELAXED);
}

static inline void bpe_slot_unlock(uint32_t* v, uint32_t seen) {
    __atomic_store_n(v, seen + 2, __ATOMIC_RELEASE);
}

#endif
