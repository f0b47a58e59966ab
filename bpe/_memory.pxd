"""Allocation of the big lookup tables (piece cache, pair maps) and buffers on huge pages.

The kernels probe the tables at random. On 4 KB pages a table of a few megabytes spans
thousands of pages, so most probes also miss the TLB; on 2 MB pages it spans a handful.
The buffers (ids, UTF-8, decoded bytes: tens of megabytes for a large text) are written
once through: on 4 KB pages each page costs a page fault when first touched, which on a
virtual machine can cost as much as encoding into it; on 2 MB pages, one fault per 2 MB.
Allocations of a megabyte or more are aligned to 2 MB and the kernel is asked (madvise) to
back them with transparent huge pages; where that is not supported the advice is a no-op.
Release them with free().
"""
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy, memset

cdef enum:
    HUGE_FROM = 1 << 20     # allocations from this size go on huge pages

cdef extern from *:
    """
    #include <stdint.h>
    #include <stdlib.h>
    #include <sys/mman.h>
    /* Ask for huge pages under the whole 2 MB pages inside [p, p + size): our own
       allocations, and memory someone else allocated (a str's characters) before it is
       first written. */
    static void bpe_advise_huge(void* p, size_t size) {
    #ifdef MADV_HUGEPAGE
        const uintptr_t page = (uintptr_t)2 << 20;
        uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
        uintptr_t end = ((uintptr_t)p + size) & ~(page - 1);
        if (end > start) madvise((void*)start, end - start, MADV_HUGEPAGE);
    #endif
    }
    static void* bpe_huge_alloc(size_t size) {
        const size_t page = (size_t)2 << 20;
        size_t rounded = (size + page - 1) & ~(page - 1);
        void* p = aligned_alloc(page, rounded);
        if (p) bpe_advise_huge(p, rounded);
        return p;
    }
    """
    void* bpe_huge_alloc(size_t size) nogil
    void bpe_advise_huge(void* p, size_t size) nogil


cdef inline void* table_alloc(size_t size, int fill) noexcept nogil:
    """size bytes, each set to fill; NULL when out of memory."""
    cdef void* p = bpe_huge_alloc(size) if size >= HUGE_FROM else malloc(size)
    if p != NULL:
        memset(p, fill, size)
    return p


cdef inline void* buffer_grow(void* data, size_t keep, size_t size) noexcept nogil:
    """realloc for the buffers: data (or NULL) grown to size bytes, its first keep bytes
    kept; on huge pages from HUGE_FROM bytes. NULL when out of memory (data is then
    left as it was)."""
    cdef void* grown
    if size < HUGE_FROM:
        return realloc(data, size)
    grown = bpe_huge_alloc(size)
    if grown != NULL:
        if keep:
            memcpy(grown, data, keep)
        free(data)
    return grown
