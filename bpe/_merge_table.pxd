"""The merge table and per-piece BPE (bodies in _merge_table.pyx)."""
cimport cython
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libcpp.vector cimport vector

from bpe._pairmap cimport PackedPairs, PairMap


@cython.final
cdef class MergeTable:
    cdef PackedPairs packed              # pair -> merged id, which stands for the rank; or
    cdef PairMap ranks                   # pair -> rank << 32 | merged id
    cdef int32_t byte_ids[256]
    cdef int64_t* byte_pair_ranks        # [256 * first byte + second byte]: the first round
    cdef uint64_t junctions[1024]        # a bit per byte pair (x, y): some merge joins a
                                         # token ending in x to one starting with y
    cdef uint64_t* present               # a bit per hash of the pairs that merge: most pairs
    cdef int present_shift               # that don't are turned away without a probe
    cdef readonly Py_ssize_t n_merges
    cdef PairMap wholes                  # whole tokens (take_whole_tokens): a hash of the
    cdef bytes whole_blob                # bytes -> the first k with it, whole_next[k] the
    cdef const uint8_t* whole_data       # next (-1: none); token k is whole_blob[starts[k]:
    cdef vector[int64_t] whole_starts    # starts[k + 1]] (whole_data: its buffer), its
    cdef vector[int32_t] whole_ids       # id whole_ids[k]
    cdef vector[int32_t] whole_next
    cdef readonly Py_ssize_t n_wholes

    cdef bint pack(self, const int32_t[::1] left, const int32_t[::1] right,
                   const int32_t[::1] merged) except -1
    cdef fill_ranks(self, const int32_t[::1] left, const int32_t[::1] right,
                    const int32_t[::1] merged)
    cdef find_junctions(self, const int32_t[::1] left, const int32_t[::1] right,
                        const int32_t[::1] merged)
    cdef Py_ssize_t merge_short(self, const uint8_t* text, Py_ssize_t n, int32_t* out) noexcept nogil
    cdef Py_ssize_t merge_long(self, const uint8_t* text, Py_ssize_t n, int32_t* out) noexcept nogil
    cdef Py_ssize_t merge_heap(self, const uint8_t* text, Py_ssize_t n, int32_t* out,
                               int32_t* sym, int32_t* nxt, int32_t* prv,
                               uint64_t* heap) noexcept nogil
    cdef Py_ssize_t merge_piece(self, const uint8_t* text, Py_ssize_t n, int32_t* out) noexcept nogil
    cdef int32_t whole_id(self, const uint8_t* text, Py_ssize_t n) noexcept nogil
    cdef Py_ssize_t merge_dropout(self, const uint8_t* text, Py_ssize_t n, int32_t* out,
                                  uint64_t threshold, uint64_t* rng) noexcept nogil
    cdef Py_ssize_t dropout_heap(self, const uint8_t* text, Py_ssize_t n, int32_t* out,
                                 uint64_t threshold, uint64_t* rng, uint64_t* heap,
                                 int32_t* sym) noexcept nogil


cpdef uint64_t dropout_threshold(double p) except? 0
