"""The piece cache: piece bytes -> ids, for pieces seen before (bodies in _piece_cache.pyx).

The lookups that the encode loop makes for every piece are inline here, so that it compiles
them into its loop: slot_for, and cached_short/holds_piece on a slot.
"""
cimport cython
from libc.stdint cimport int32_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

from bpe._hashing cimport KEY_BYTES, _load64, hash_bytes, hash_key, load_key


cdef extern from "bpe_seqlock.h" nogil:
    uint32_t bpe_slot_version(const uint32_t* v)
    bint bpe_slot_unchanged(const uint32_t* v, uint32_t seen)
    bint bpe_slot_lock(uint32_t* v, uint32_t* seen)
    void bpe_slot_unlock(uint32_t* v, uint32_t seen)


cdef enum:
    CACHE_BITS = 18         # the short-piece table has 1 << CACHE_BITS slots
    CACHE_MAX_BYTES = 26    # longer pieces go to the long-piece cache
    CACHE_MAX_IDS = 8
    MANY_IDS = 255          # a slot's n_ids when the piece's ids are in the long-piece cache
    LONG_SLOTS = 1 << 14    # the long-piece cache: longer pieces, and short ones with many ids
    LONG_MAX_BYTES = 256    # at most 16384 * (256 B + 1 KB of ids): 21 MB, typically 2 MB


cdef struct CacheSlot:      # 64 bytes: one cache line
    uint32_t version        # a seqlock (include/bpe_seqlock.h): odd while a thread writes it
    uint8_t n_bytes         # 0: empty
    uint8_t n_ids
    uint8_t text[CACHE_MAX_BYTES]   # zero past n_bytes: its first 16 bytes are a piece's key
    int32_t ids[CACHE_MAX_IDS]


cdef struct LongSlot:
    uint64_t hash
    Py_ssize_t n_bytes
    Py_ssize_t n_ids
    int32_t* ids            # one allocation: the ids, then the piece's bytes (NULL: empty)


@cython.final
cdef class PieceSlots:
    cdef CacheSlot* slots
    cdef uint64_t mask


@cython.final
cdef class PieceCache:
    cdef readonly PieceSlots shared
    cdef CacheSlot* slots
    cdef uint64_t mask
    cdef LongSlot* long_slots
    cdef public long long hits, misses
    cdef public uint64_t dropout    # BPE-dropout: 0 off, else merge_dropout's threshold,
    cdef public uint64_t rng        # its draws from this splitmix64 state; no lookups then
    cdef Py_ssize_t find_long(self, const uint8_t* text, Py_ssize_t n, uint64_t h,
                              int32_t* dst) noexcept nogil
    cdef void keep_long(self, const uint8_t* text, Py_ssize_t n, uint64_t h,
                        const int32_t* ids, Py_ssize_t m) noexcept nogil


cdef void keep_short(CacheSlot* slot, const uint8_t* text, Py_ssize_t n, const int32_t* ids,
                     Py_ssize_t m) noexcept nogil


cdef inline CacheSlot* slot_for(PieceCache cache, const uint8_t* text, Py_ssize_t n,
                                const uint8_t* limit) noexcept nogil:
    """The slot of a piece of 1..CACHE_MAX_BYTES bytes that ends by limit (the end of the
    buffer it is in): up to KEY_BYTES bytes, by its key (see load_key)."""
    cdef uint64_t low, high
    if n <= KEY_BYTES:
        load_key(text, n, limit, &low, &high)
        return &cache.slots[hash_key(low, high) & cache.mask]
    return &cache.slots[hash_bytes(text, n) & cache.mask]


cdef inline bint slot_key_is(const CacheSlot* slot, uint64_t low, uint64_t high,
                             Py_ssize_t n) noexcept nogil:
    """Whether the slot holds the piece of n <= KEY_BYTES bytes whose key is low, high:
    its key and its length, compared without a branch on n."""
    return ((_load64(slot.text) ^ low) | (_load64(slot.text + 8) ^ high)
            | <uint64_t>(slot.n_bytes ^ n)) == 0


cdef inline bint holds_piece(const CacheSlot* slot, const uint8_t* text, Py_ssize_t n,
                             const uint8_t* limit) noexcept nogil:
    """Whether the slot holds the piece text[:n] (1 <= n <= CACHE_MAX_BYTES, ending by
    limit)."""
    cdef uint64_t low, high
    if n <= KEY_BYTES:
        load_key(text, n, limit, &low, &high)
        return slot_key_is(slot, low, high, n)
    return slot.n_bytes == n and same_piece(slot.text, text, n)


cdef inline Py_ssize_t cached_short(const CacheSlot* slot, uint64_t low, uint64_t high,
                                    Py_ssize_t n, int32_t* dst) noexcept nogil:
    """The common case of a lookup: a piece of 1..KEY_BYTES bytes (its key: load_key's low
    and high words) whose ids are in its slot. Their number, written at dst (which has room
    for CACHE_MAX_IDS), or -1 (not there, too many ids, or the slot changed meanwhile)."""
    cdef uint32_t seen = bpe_slot_version(&slot.version)
    cdef Py_ssize_t m = slot.n_ids
    if not slot_key_is(slot, low, high, n) or m == MANY_IDS:
        return -1
    memcpy(dst, slot.ids, CACHE_MAX_IDS * sizeof(int32_t))   # fixed size: no call
    if not bpe_slot_unchanged(&slot.version, seen):
        return -1
    return m


cdef inline bint same_piece(const uint8_t* cached, const uint8_t* piece, Py_ssize_t n) noexcept nogil:
    """Whether the first n bytes (1 <= n <= CACHE_MAX_BYTES) agree, reading piece only
    inside [0, n): overlapping whole-word loads instead of a memcmp call."""
    cdef uint64_t x, y
    cdef uint32_t u, v
    if n >= 8:
        memcpy(&x, cached, 8); memcpy(&y, piece, 8)
        if x != y:
            return False
        memcpy(&x, cached + n - 8, 8); memcpy(&y, piece + n - 8, 8)
        if x != y:
            return False
        if n > 16:
            memcpy(&x, cached + 8, 8); memcpy(&y, piece + 8, 8)
            if x != y:
                return False
            if n > 24:
                memcpy(&x, cached + 16, 8); memcpy(&y, piece + 16, 8)
                return x == y
        return True
    if n >= 4:
        memcpy(&u, cached, 4); memcpy(&v, piece, 4)
        if u != v:
            return False
        memcpy(&u, cached + n - 4, 4); memcpy(&v, piece + n - 4, 4)
        return u == v
    return cached[0] == piece[0] and cached[n - 1] == piece[n - 1] and cached[n >> 1] == piece[n >> 1]
