"""Allocation of the big lookup tables (piece cache, pair maps) on huge pages.

The kernels probe these tables at random. On 4 KB pages a table of a few megabytes spans
thousands of pages, so most probes also miss the TLB; on 2 MB pages it spans a handful.
Tables of a megabyte or more are aligned to 2 MB and the kernel is asked (madvise) to back
them with transparent huge pages; where that is not supported the advice is a no-op.
Release them with free().
"""
from libc.stdlib cimport malloc
from libc.string cimport memset

cdef extern from *:
    """
    #include <stdlib.h>
    #include <sys/mman.h>
    static void* bpe_huge_alloc(size_t size) {
        const size_t page = (size_t)2 << 20;
        size_t rounded = (size + page - 1) & ~(page - 1);
        void* p = aligned_alloc(page, rounded);
    #ifdef MADV_HUGEPAGE
        if (p) madvise(p, rounded, MADV_HUGEPAGE);
    #endif
        return p;
    }
    """
    void* bpe_huge_alloc(size_t size) nogil


cdef inline void* table_alloc(size_t size, int fill) noexcept nogil:
    """size bytes, each set to fill; NULL when out of memory."""
    cdef void* p = bpe_huge_alloc(size) if size >= (1 << 20) else malloc(size)
    if p != NULL:
        memset(p, fill, size)
    return p
