"""A fast hash of short byte strings (pieces), shared by the piece cache and the counter."""
from libc.stdint cimport uint32_t, uint8_t, uint64_t
from libc.string cimport memcpy


cdef inline uint64_t _load32(const uint8_t* s) noexcept nogil:
    cdef uint32_t word
    memcpy(&word, s, 4)
    return word


cdef inline uint64_t _load64(const uint8_t* s) noexcept nogil:
    cdef uint64_t word
    memcpy(&word, s, 8)
    return word


cdef inline uint64_t hash_bytes(const uint8_t* s, Py_ssize_t n) noexcept nogil:
    # Whole loads only, never a byte-wise copy into a word (that stalls store forwarding):
    # 8 bytes at a time, then the tail as two overlapping loads. Reads stay inside s[0:n].
    cdef uint64_t h = 0x9E3779B97F4A7C15ULL ^ <uint64_t>n, word
    while n > 8:
        h = (h ^ _load64(s)) * 0xBF58476D1CE4E5B9ULL
        h ^= h >> 29
        s += 8
        n -= 8
    if n >= 4:
        word = _load32(s) | (_load32(s + n - 4) << 32)
    elif n > 0:
        word = s[0] | (<uint64_t>s[n >> 1] << 8) | (<uint64_t>s[n - 1] << 16)
    else:
        word = 0
    h = (h ^ word) * 0xBF58476D1CE4E5B9ULL
    h ^= h >> 32
    h *= 0x94D049BB133111EBULL
    h ^= h >> 29
    return h
