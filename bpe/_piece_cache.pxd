"""The piece cache: piece bytes -> ids, for pieces seen before (bodies in _piece_cache.pyx).

The lookups that the encode loop makes for every piece are inline here, so that it compiles
them into its loop: line_of and cached_short for a short piece's line, wide_of and
cached_wide for a wide slot.
"""
cimport cython
from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from bpe._hashing cimport KEY_BYTES, _load64, hash_bytes, hash_key, load_key


cdef extern from "bpe_seqlock.h" nogil:
    uint32_t bpe_slot_version(const uint32_t* v)
    bint bpe_slot_unchanged(const uint32_t* v, uint32_t seen)
    bint bpe_slot_lock(uint32_t* v, uint32_t* seen)
    void bpe_slot_unlock(uint32_t* v, uint32_t seen)


cdef enum:
    CACHE_BITS = 18         # the short-piece table has 1 << CACHE_BITS lines
    WIDE_SHIFT = 3          # and the wide table an eighth as many slots
    CACHE_MAX_BYTES = 26    # longer pieces go to the long-piece cache
    CACHE_MAX_IDS = 8
    MANY_IDS = 255          # a wide slot's n_ids when the piece's ids are in the long-piece cache
    # The long-piece table: longer pieces, and short ones with many ids, in sets of
    # LONG_WAYS slots (a piece may be in any slot of its set); 1 << LONG_BITS slots
    # (1 MB, touched as used), holding at most LONG_BUDGET bytes of pieces and ids
    LONG_BITS = 16
    LONG_WAYS = 4
    LONG_BUDGET = 16 << 20
    LONG_MAX_BYTES = 256    # longer pieces are not cached
    # A way's form: the number of its ids (form & WAY_IDS); IN_WIDE (set in both ways'
    # forms) if a piece of this line has gone to the wide table, the only lines whose
    # misses look there
    WAY_IDS = 7
    IN_WIDE = 8
    MAX_IDS_16 = 6          # the ids a way holds, 12 bytes of them: in packed tables six
    MAX_IDS_32 = 3          # ids under 2**16, else three of 32 bits


cdef struct CacheLine:      # 64 bytes: one cache line, two pieces of up to KEY_BYTES bytes
    uint32_t version        # a seqlock over the line (include/bpe_seqlock.h)
    uint8_t n_bytes[2]      # each way's piece length; 0: the way is empty
    uint8_t form[2]         # each way's form (WAY_IDS, IN_WIDE)
    uint8_t ids[24]         # way w's ids at 12 * w
    uint64_t key[4]         # way w's key (load_key's low and high words) at 2 * w


cdef struct CacheSlot:      # 64 bytes: a wide slot, one piece of up to CACHE_MAX_BYTES bytes
    uint32_t version        # a seqlock
    uint8_t n_bytes         # 0: empty
    uint8_t n_ids
    uint8_t text[CACHE_MAX_BYTES]   # zero past n_bytes: its first 16 bytes are a piece's key
    int32_t ids[CACHE_MAX_IDS]


cdef struct LongSlot:      # 16 bytes: a set of LONG_WAYS is one 64-byte line's worth
    uint32_t hash           # the top half of the piece's hash (the bottom picks the set)
    uint16_t n_bytes        # at most LONG_MAX_BYTES,
    uint16_t n_ids          # and so are its ids
    int32_t* ids            # one allocation: the ids, then the piece's bytes (NULL: empty)


@cython.final
cdef class PieceSlots:
    cdef CacheLine* lines
    cdef uint64_t mask
    cdef int shift          # line_of's: 64 - bits (63 for one line, masked to 0)
    cdef CacheSlot* wide
    cdef uint64_t wide_mask
    cdef readonly bint packed   # ways hold 16-bit ids (MAX_IDS_16), else 32-bit ones


@cython.final
cdef class PieceCache:
    cdef readonly PieceSlots shared
    cdef CacheLine* lines
    cdef uint64_t mask
    cdef int shift
    cdef CacheSlot* wide
    cdef uint64_t wide_mask
    cdef bint packed
    cdef LongSlot* long_slots       # aligned to 64 bytes in long_block
    cdef void* long_block
    cdef uint64_t long_mask         # slots - 1
    cdef Py_ssize_t long_bytes      # held by the long-piece table's allocations
    cdef unsigned int long_turn     # the way a full set gives up next
    cdef public long long hits, misses
    cdef public uint64_t dropout    # BPE-dropout: 0 off, else merge_dropout's threshold,
    cdef public uint64_t rng        # its draws from this splitmix64 state; no lookups then
    cdef LongSlot* long_set(self, uint64_t h) noexcept nogil
    cdef Py_ssize_t find_long(self, const uint8_t* text, Py_ssize_t n, uint64_t h,
                              int32_t* dst) noexcept nogil
    cdef void keep_long(self, const uint8_t* text, Py_ssize_t n, uint64_t h,
                        const int32_t* ids, Py_ssize_t m) noexcept nogil


cdef void keep_short(CacheSlot* slot, const uint8_t* text, Py_ssize_t n, const int32_t* ids,
                     Py_ssize_t m) noexcept nogil
cdef bint keep_in_line(CacheLine* line, uint64_t low, uint64_t high, Py_ssize_t n,
                       const int32_t* ids, Py_ssize_t m, bint packed) noexcept nogil


cdef inline CacheLine* line_of(PieceCache cache, uint64_t low, uint64_t high) noexcept nogil:
    """The line of a piece of up to KEY_BYTES bytes, by its key: the top bits of the xor of
    its words' products with two odd constants (every bit of a word reaches a product's top
    bits). Two multiplies side by side, on the path of every piece: hash_key's fuller mix
    (a third multiply and two shifts after them) took 8% longer on text seen before, with
    the same misses."""
    cdef uint64_t h = low * 0x9E3779B97F4A7C15ULL ^ high * 0xC2B2AE3D27D4EB4FULL
    return &cache.lines[(h >> cache.shift) & cache.mask]


cdef inline CacheSlot* wide_of_key(PieceCache cache, uint64_t low, uint64_t high) noexcept nogil:
    """The wide slot of a piece of up to KEY_BYTES bytes whose ids do not fit in a way of
    its line (other bits of the hash than line_of's)."""
    return &cache.wide[(hash_key(low, high) >> 32) & cache.wide_mask]


cdef inline CacheSlot* wide_of(PieceCache cache, const uint8_t* text, Py_ssize_t n) noexcept nogil:
    """The wide slot of a piece of KEY_BYTES + 1 .. CACHE_MAX_BYTES bytes."""
    return &cache.wide[hash_bytes(text, n) & cache.wide_mask]


cdef inline bint slot_key_is(const CacheSlot* slot, uint64_t low, uint64_t high,
                             Py_ssize_t n) noexcept nogil:
    """Whether the wide slot holds the piece of n <= KEY_BYTES bytes whose key is low, high:
    its key and its length, compared without a branch on n."""
    return ((_load64(slot.text) ^ low) | (_load64(slot.text + 8) ^ high)
            | <uint64_t>(slot.n_bytes ^ n)) == 0


cdef inline bint way_is(const CacheLine* line, int w, uint64_t low, uint64_t high,
                        Py_ssize_t n) noexcept nogil:
    """Whether way w of the line holds the piece of n <= KEY_BYTES bytes whose key is low,
    high: its key and its length, compared without a branch on n."""
    return ((line.key[2 * w] ^ low) | (line.key[2 * w + 1] ^ high)
            | <uint64_t>(line.n_bytes[w] ^ n)) == 0


cdef inline Py_ssize_t way_ids(const CacheLine* line, int w, bint packed,
                               int32_t* dst) noexcept nogil:
    """Copy way w's ids to dst as CACHE_MAX_IDS values (the rest past theirs are any): their
    number. One fixed-size block either way, which the compiler keeps in vector registers:
    eight 16-bit ids widened (packed), or four 32-bit ones. packed is the table's, the same
    for every piece, so its branch is always predicted; a form per way, mixing both in one
    table, cost 7-10% of encoding text seen before, in a chain from the form to the copy."""
    cdef uint16_t narrow[8]
    cdef int k
    if packed:
        memcpy(narrow, line.ids + 12 * w, 16)
        for k in range(8):
            dst[k] = narrow[k]
    else:
        memcpy(dst, line.ids + 12 * w, 16)
    return line.form[w] & WAY_IDS


cdef inline Py_ssize_t cached_short(const CacheLine* line, uint64_t low, uint64_t high,
                                    Py_ssize_t n, bint packed, int32_t* dst) noexcept nogil:
    """The common case of a lookup: a piece of 1..KEY_BYTES bytes (its key: load_key's low
    and high words) in a way of its line (packed: the table's, PieceSlots.packed). The
    number of its ids, written at dst (which has room for CACHE_MAX_IDS), or -1 (not
    there, or the line changed meanwhile). The way is found by branches, each with its own
    copy: predicted, they let the copy start before the keys are compared."""
    cdef uint32_t seen = bpe_slot_version(&line.version)
    cdef Py_ssize_t m
    if way_is(line, 0, low, high, n):
        m = way_ids(line, 0, packed, dst)
    elif way_is(line, 1, low, high, n):
        m = way_ids(line, 1, packed, dst)
    else:
        return -1
    if not bpe_slot_unchanged(&line.version, seen):
        return -1
    return m


cdef inline Py_ssize_t cached_wide(const CacheSlot* slot, const uint8_t* text, Py_ssize_t n,
                                   const uint8_t* limit, int32_t* dst) noexcept nogil:
    """A lookup in a wide slot: the number of ids written at dst; -1 not there or the slot
    changed meanwhile; -2 there, with its ids in the long-piece cache."""
    cdef uint32_t seen = bpe_slot_version(&slot.version)
    cdef Py_ssize_t m = slot.n_ids
    if not holds_piece(slot, text, n, limit):
        return -1
    if m != MANY_IDS:
        memcpy(dst, slot.ids, CACHE_MAX_IDS * sizeof(int32_t))   # fixed size: no call
    if not bpe_slot_unchanged(&slot.version, seen):
        return -1
    return m if m != MANY_IDS else -2


cdef inline bint holds_piece(const CacheSlot* slot, const uint8_t* text, Py_ssize_t n,
                             const uint8_t* limit) noexcept nogil:
    """Whether the wide slot holds the piece text[:n] (1 <= n <= CACHE_MAX_BYTES, ending by
    limit)."""
    cdef uint64_t low, high
    if n <= KEY_BYTES:
        load_key(text, n, limit, &low, &high)
        return slot_key_is(slot, low, high, n)
    return slot.n_bytes == n and same_piece(slot.text, text, n)


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
