/* Huge pages for the big tables and buffers, and the one growth rule for buffers.

   The kernels probe their tables (piece cache, pair maps) at random: on 4 KB pages a table
   of a few megabytes spans thousands of pages, and most probes also miss the TLB; on 2 MB
   pages it spans a handful. Their buffers (ids, UTF-8, decoded bytes) are written once
   through: on 4 KB pages every page costs a fault when first touched, on 2 MB pages one
   fault per 2 MB. Allocations of BPE_HUGE_FROM bytes or more are aligned to 2 MB and
   advised (madvise) to be backed by transparent huge pages; where that is not supported
   the advice is a no-op. Everything here is released with free(). */
#ifndef BPE_MEMORY_H
#define BPE_MEMORY_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define BPE_HUGE_FROM ((size_t)1 << 20)

/* Ask for huge pages under the whole 2 MB pages inside [p, p + size): for our own
   allocations, and for memory allocated elsewhere (a str's characters) before it is first
   written. */
static inline void bpe_advise_huge(void* p, size_t size) {
#ifdef MADV_HUGEPAGE
    const uintptr_t page = (uintptr_t)2 << 20;
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)p + size) & ~(page - 1);
    if (end > start) madvise((void*)start, end - start, MADV_HUGEPAGE);
#else
    (void)p;
    (void)size;
#endif
}

static inline void* bpe_huge_alloc(size_t size) {
    const size_t page = (size_t)2 << 20;
    size_t rounded = (size + page - 1) & ~(page - 1);
    void* p = aligned_alloc(page, rounded);
    if (p) bpe_advise_huge(p, rounded);
    return p;
}

/* size bytes, each set to fill (on huge pages from BPE_HUGE_FROM); NULL when out of
   memory. */
static inline void* bpe_table_alloc(size_t size, int fill) {
    void* p = size >= BPE_HUGE_FROM ? bpe_huge_alloc(size) : malloc(size);
    if (p) memset(p, fill, size);
    return p;
}

/* realloc for the buffers: data (or NULL) grown to size bytes, its first keep bytes kept;
   on huge pages from BPE_HUGE_FROM. NULL when out of memory (data is then as it was). */
static inline void* bpe_buffer_grow(void* data, size_t keep, size_t size) {
    if (size < BPE_HUGE_FROM) return realloc(data, size);
    void* grown = bpe_huge_alloc(size);
    if (grown) {
        if (keep) memcpy(grown, data, keep);
        free(data);
    }
    return grown;
}

/* The growth rule of every buffer: make room for `needed` bytes in *data, of which the
   first `used` are kept; at least double the capacity, so n appends cost O(n), and at
   least 4 KB. 0 on success, -1 when out of memory (the buffer is then as it was). */
static inline int bpe_reserve(void** data, size_t* capacity, size_t used, size_t needed) {
    if (needed <= *capacity) return 0;
    size_t size = 2 * *capacity;
    if (size < needed) size = needed;
    if (size < 4096) size = 4096;
    void* grown = bpe_buffer_grow(*data, used, size);
    if (grown == NULL) return -1;
    *data = grown;
    *capacity = size;
    return 0;
}

#endif
