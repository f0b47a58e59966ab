"""A fast hash of short byte strings (pieces), shared by the piece cache and the counter."""
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memcpy


cdef inline uint64_t hash_bytes(const uint8_t* s, Py_ssize_t n) noexcept nogil:
    # Eight bytes at a time, each word mixed in with a multiply; then a final avalanche.
    cdef uint64_t h = 0x9E3779B97F4A7C15ULL ^ <uint64_t>n, word
    while n >= 8:
        memcpy(&word, s, 8)
        h = (h ^ word) * 0xBF58476D1CE4E5B9ULL
        h ^= h >> 29
        s += 8
        n -= 8
    if n > 0:
        word = 0
        memcpy(&word, s, n)
        h = (h ^ word) * 0xBF58476D1CE4E5B9ULL
    h ^= h >> 32
    h *= 0x94D049BB133111EBULL
    h ^= h >> 29
    return h
