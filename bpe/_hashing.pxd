"""A fast hash of short byte strings (pieces), shared by the piece cache and the counter.

Inline here: the encode and count loops hash every piece, and compile these into them."""
from libc.stdint cimport uint32_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset

cdef extern from "bpe_hashing.h" nogil:
    bint BPE_KEY_LOADS
    const uint64_t bpe_low_mask[17]
    const uint64_t bpe_high_mask[17]

cdef enum:
    KEY_BYTES = 16      # pieces up to this long are keyed by two words (see load_key)


cdef inline uint64_t _load32(const uint8_t* s) noexcept nogil:
    cdef uint32_t word
    memcpy(&word, s, 4)
    return word


cdef inline uint64_t _load64(const uint8_t* s) noexcept nogil:
    cdef uint64_t word
    memcpy(&word, s, 8)
    return word


cdef inline void load_key(const uint8_t* s, Py_ssize_t n, const uint8_t* limit,
                          uint64_t* low, uint64_t* high) noexcept nogil:
    """The n <= KEY_BYTES bytes at s as two words, zero past n, without a branch on n:
    two whole loads and two masks, when 16 bytes from s are inside the buffer (s + 16 <=
    limit); else through a zeroed copy, with the same result."""
    cdef uint8_t copy[16]
    if BPE_KEY_LOADS and s + 16 <= limit:
        low[0] = _load64(s) & bpe_low_mask[n]
        high[0] = _load64(s + 8) & bpe_high_mask[n]
        return
    memset(copy, 0, 16)
    memcpy(copy, s, n)
    low[0] = _load64(copy)
    high[0] = _load64(copy + 8)


cdef inline uint64_t hash_key(uint64_t low, uint64_t high) noexcept nogil:
    """A hash of load_key's two words. It does not see the length (a piece may hold NUL
    bytes), so a table keyed by it compares the length as well as the words."""
    cdef uint64_t h = low * 0xBF58476D1CE4E5B9ULL ^ (high + 0x9E3779B97F4A7C15ULL) * 0x94D049BB133111EBULL
    h ^= h >> 32
    h *= 0xBF58476D1CE4E5B9ULL
    h ^= h >> 29
    return h


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
