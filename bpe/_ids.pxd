"""Ids on their way out of the encode kernels (bodies in _ids.pyx)."""
cimport cython
from libc.stdint cimport int32_t


@cython.final
cdef class IdBuffer:
    cdef int32_t* data
    cdef size_t size
    cdef size_t capacity                # in ids
    cdef int reserve(self, size_t extra) noexcept nogil


@cython.final
cdef class _IntBlock:
    cdef char* data
    cdef Py_ssize_t n
    cdef size_t handed_out              # uncounted references put in lists (fill_lists)


@cython.final
cdef class PinnedInts:
    cdef _IntBlock owner
    cdef char* block
    cdef readonly Py_ssize_t n


cdef fill_lists(list lists, const int32_t* ids, const Py_ssize_t* ends, const char* skipped,
                object ints)
cdef char* pinned_block(size_t* n_bytes) noexcept nogil
