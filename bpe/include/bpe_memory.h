/* Huge pages for the big tables and buffers, and the one growth rule for buffers.

   The kernels probe their tables (piece cache, pair maps) at random: on 4 KB pages a table
   of a few megabytes spans thousands of pages, and most probes also miss the TLB; on 2 MB
   pages it spans a handful. Their buffers (ids, UTF-8, decoded bytes) are written once
   through: on 4 KB pages every page costs a fault when first touched, on 2 MB pages one
   fault per 2 MB. Allocations of BPE_HUGE_FROM bytes or more are aligned to 2 MB and
   advised (madvise) to be backed by transparent huge pages; where that is not supported
   the advice is a no-op.

   Buffers of BPE_HUGE_FROM bytes or more are mapped straight from the kernel (mmap), not
   taken from malloc: glibc raises its threshold for mapping a block to the size of the
   largest mapped block freed (up to 32 MB), and then keeps freed blocks below it, and up
   to twice it at the top of a heap, instead of handing them back. Through malloc, the 6 MB
   ids buffer of encode_file's chunks raised it so far that a process loading GPT-2 and
   encoding the 78 MB mix corpus three times over peaked 15 MB higher in its third round
   than in its first; mapped, 7 MB.

   Tables are released with free(), but bpe_zeroed_alloc's (bpe_zeroed_free); buffers with
   bpe_buffer_free and their capacity. */
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

/* size bytes of zeros straight from the kernel (mmap): its pages cost memory only once
   touched, where bpe_table_alloc's memset touches them all. For a big table a short run
   touches a little of, such as the piece cache (16 MB, of which encoding one sentence
   touches a few slots). From BPE_HUGE_FROM on huge pages; below, on small ones (a 2 MB
   huge page under a table of a few kilobytes would cost 2 MB as soon as one slot is
   written). NULL when out of memory; release with bpe_zeroed_free. */
static inline size_t bpe_zeroed_size(size_t size) {
    const size_t page = size < BPE_HUGE_FROM ? (size_t)4 << 10 : (size_t)2 << 20;
    return (size + page - 1) & ~(page - 1);
}
static inline void* bpe_zeroed_alloc(size_t size) {
    const uintptr_t page = (uintptr_t)2 << 20;
    size_t rounded = bpe_zeroed_size(size);
    if (size < BPE_HUGE_FROM) {
        void* p = mmap(NULL, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    size_t span = rounded + page;           /* room to start on a 2 MB boundary */
    char* base = (char*)mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                             -1, 0);
    if (base == MAP_FAILED) return NULL;
    char* start = (char*)(((uintptr_t)base + page - 1) & ~(page - 1));
    char* end = start + rounded;
    if (start > base) munmap(base, (size_t)(start - base));        /* the unaligned ends */
    if (base + span > end) munmap(end, (size_t)(base + span - end));
    bpe_advise_huge(start, rounded);
    return start;
}
static inline void bpe_zeroed_free(void* p, size_t size) {
    if (p) munmap(p, bpe_zeroed_size(size));
}

/* Release a buffer of this capacity (bpe_reserve's): mapped from BPE_HUGE_FROM, else from
   malloc. NULL is nothing to release. */
static inline void bpe_buffer_free(void* data, size_t capacity) {
    if (capacity >= BPE_HUGE_FROM) bpe_zeroed_free(data, capacity);
    else free(data);
}

/* realloc for the buffers: data (or NULL) of `capacity` bytes grown to size bytes, its
   first keep bytes kept; mapped on huge pages from BPE_HUGE_FROM. NULL when out of memory
   (data is then as it was). */
static inline void* bpe_buffer_grow(void* data, size_t keep, size_t capacity, size_t size) {
    if (size < BPE_HUGE_FROM) return realloc(data, size);
    void* grown = bpe_zeroed_alloc(size);
    if (grown) {
        if (keep) memcpy(grown, data, keep);
        bpe_buffer_free(data, capacity);
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
    void* grown = bpe_buffer_grow(*data, used, *capacity, size);
    if (grown == NULL) return -1;
    *data = grown;
    *capacity = size;
    return 0;
}

#endif
