"""Open-addressing hash maps from a token pair, shared by the kernels.

PairMap: a pair (a, b) of token ids packs into one uint64 key, with an int64 value beside
it. Training maps pairs to pair slots, encoding maps pairs to (rank, new id).

PackedPairs: key and value in one uint64, for encoding when every id is below 2**21: the
pair in the top 42 bits, a 22-bit value (the new id) in the rest. Half PairMap's size, so
that a large vocabulary's table (o200k's: 8 MB, not 16) shares the L3 cache better with the
piece cache; a pair is found by masking, with no second load.

Both: linear probing over a power-of-two table; all ones marks an empty slot. A table is
made at most half full for the keys it is made for (pairmap_init, packed_init: the encode
tables get no others); a PairMap that grows by pairmap_put (the merge loop's, of every pair
it meets: 720K at 32,000 merges of the 78 MB corpus) grows past three quarters full, so
that its table is half the size a half-full rule would double it to. No entry is all ones
(a PairMap key holds two ids below 2**31; a PackedPairs
value is below 2**21), but an empty PackedPairs slot's pair bits are those of the pair
(2**21 - 1, 2**21 - 1): a probe looks for the empty slot before comparing pairs. No
deletion: no kernel needs it.

Inline here: the training merge loop and the encode merge table probe them for every pair,
and compile them into their loops.
"""
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport free

from bpe._memory cimport table_alloc

cdef enum:
    PAIRMAP_EMPTY_BYTE = 0xFF
    PACKED_ID_BITS = 21             # PackedPairs: ids below 2**21, values below 2**22
    PACKED_VALUE_BITS = 22

cdef struct PairEntry:
    uint64_t key
    int64_t value

cdef struct PairMap:
    PairEntry* entries              # key and value side by side: one cache line per probe
    uint64_t mask
    uint64_t size


cdef inline uint64_t pair_key(int32_t a, int32_t b) noexcept nogil:
    return (<uint64_t><uint32_t>a << 32) | <uint64_t><uint32_t>b


cdef inline uint64_t _mix(uint64_t x) noexcept nogil:
    # splitmix64's finalizer: spreads both halves of the key over all bits.
    x ^= x >> 30
    x *= 0xbf58476d1ce4e5b9ULL
    x ^= x >> 27
    x *= 0x94d049bb133111ebULL
    x ^= x >> 31
    return x


cdef inline void* _empty_table(uint64_t expected, size_t entry_size, uint64_t* mask) noexcept nogil:
    """Entries for `expected` keys at most half full (a power of two, 16 or more), all
    empty, with mask set to their number less one; NULL when out of memory."""
    cdef uint64_t capacity = 16
    while capacity < 2 * expected:
        capacity <<= 1
    mask[0] = capacity - 1
    return table_alloc(capacity * entry_size, PAIRMAP_EMPTY_BYTE)


cdef inline int pairmap_init(PairMap* m, uint64_t expected) noexcept nogil:
    """Allocate room for `expected` keys; 0 on success, -1 when out of memory."""
    m.entries = <PairEntry*>_empty_table(expected, sizeof(PairEntry), &m.mask)
    m.size = 0
    return 0 if m.entries != NULL else -1


cdef inline void pairmap_free(PairMap* m) noexcept nogil:
    free(m.entries)
    m.entries = NULL


cdef inline int64_t pairmap_get(const PairMap* m, uint64_t key, int64_t missing) noexcept nogil:
    return pairmap_get_mixed(m, key, _mix(key), missing)


cdef inline uint64_t pairmap_mix(uint64_t key) noexcept nogil:
    return _mix(key)


cdef inline uint64_t packed_mix(uint64_t key) noexcept nogil:
    """PackedPairs' hash of a pair_key: one multiply, with the product's top half folded
    into its bottom (a slot takes the low bits, the merge table's filter the high ones).
    It sits on the path of every merge a piece makes, where _mix's chain of two
    multiplies and three shifts made a missed piece's merge 12% slower (163 ns against
    145); it spreads the encode tables' pairs as evenly (mean probes 1.31, 1.40 and 1.37
    for GPT-2's, cl100k's and o200k's merges with either)."""
    cdef uint64_t h = key * 0x9E3779B97F4A7C15ULL
    return h ^ (h >> 32)


cdef inline int64_t pairmap_get_mixed(const PairMap* m, uint64_t key, uint64_t mixed,
                                      int64_t missing) noexcept nogil:
    """pairmap_get, given pairmap_mix(key)."""
    cdef uint64_t i = mixed & m.mask
    while True:
        if m.entries[i].key == key:
            return m.entries[i].value
        if m.entries[i].key == <uint64_t>-1:
            return missing
        i = (i + 1) & m.mask


cdef inline int _pairmap_grow(PairMap* m) noexcept nogil:
    cdef PairMap bigger
    cdef uint64_t i, j
    if pairmap_init(&bigger, m.mask + 1) != 0:
        return -1
    for i in range(m.mask + 1):
        if m.entries[i].key != <uint64_t>-1:
            j = _mix(m.entries[i].key) & bigger.mask
            while bigger.entries[j].key != <uint64_t>-1:
                j = (j + 1) & bigger.mask
            bigger.entries[j] = m.entries[i]
    bigger.size = m.size
    pairmap_free(m)
    m[0] = bigger
    return 0


cdef inline int pairmap_put(PairMap* m, uint64_t key, int64_t value) noexcept nogil:
    """Insert or overwrite; 0 on success, -1 when out of memory."""
    cdef uint64_t i
    if 4 * (m.size + 1) > 3 * (m.mask + 1):
        if _pairmap_grow(m) != 0:
            return -1
    i = _mix(key) & m.mask
    while m.entries[i].key != <uint64_t>-1:
        if m.entries[i].key == key:
            m.entries[i].value = value
            return 0
        i = (i + 1) & m.mask
    m.entries[i].key = key
    m.entries[i].value = value
    m.size += 1
    return 0


cdef struct PackedPairs:
    uint64_t* entries               # (a << 21 | b) << 22 | value
    uint64_t mask


cdef inline uint64_t packed_pair(uint32_t a, uint32_t b) noexcept nogil:
    """The pair's 42 bits (a and b below 2**PACKED_ID_BITS)."""
    return (<uint64_t>a << PACKED_ID_BITS) | b


cdef inline int packed_init(PackedPairs* m, uint64_t expected) noexcept nogil:
    """Allocate room for `expected` pairs (never more); 0 on success, -1 when out of memory."""
    m.entries = <uint64_t*>_empty_table(expected, sizeof(uint64_t), &m.mask)
    return 0 if m.entries != NULL else -1


cdef inline void packed_free(PackedPairs* m) noexcept nogil:
    free(m.entries)
    m.entries = NULL


cdef inline bint packed_add(PackedPairs* m, uint64_t pair, uint64_t mixed,
                            uint64_t value) noexcept nogil:
    """Add pair -> value (below 2**PACKED_VALUE_BITS), given packed_mix of its pair_key,
    unless the pair is there already (its first value stays): whether it was added."""
    cdef uint64_t i = mixed & m.mask
    while m.entries[i] != <uint64_t>-1:
        if (m.entries[i] >> PACKED_VALUE_BITS) == pair:
            return False
        i = (i + 1) & m.mask
    m.entries[i] = (pair << PACKED_VALUE_BITS) | value
    return True


cdef inline int64_t packed_get(const PackedPairs* m, uint64_t pair, uint64_t mixed,
                               int64_t missing) noexcept nogil:
    """The pair's value, given packed_mix of its pair_key; missing if absent."""
    cdef uint64_t i = mixed & m.mask
    cdef uint64_t entry
    while True:
        entry = m.entries[i]
        if entry == <uint64_t>-1:       # first: an empty slot's top bits are the pair
            return missing              # (2**21 - 1, 2**21 - 1), a pair of real ids
        if (entry >> PACKED_VALUE_BITS) == pair:
            return <int64_t>(entry & ((<uint64_t>1 << PACKED_VALUE_BITS) - 1))
        i = (i + 1) & m.mask
