# cython: language_level=3
"""The piece cache: piece bytes -> ids, for pieces seen before, so that a piece met again
costs a lookup instead of its BPE.

- PieceSlots: the tables of short pieces, shared by every thread of a tokenizer. Pieces of
  up to KEY_BYTES bytes live in 64-byte lines of two ways each (a piece and its ids: six
  of 16 bits where the vocabulary fits them, else three of 32), so that two pieces whose
  hashes meet both stay and one prefetched line answers for both. Longer pieces of up to
  CACHE_MAX_BYTES, and short ones with more ids than a way holds, live in a direct-mapped
  table of wide slots (the bytes and up to CACHE_MAX_IDS ids). Each line and slot is a
  seqlock (include/bpe_seqlock.h): readers never wait, a writer that finds one busy skips
  it, and a read torn by a writer is thrown away.
- PieceCache: one thread's handle on the shared slots, plus its own table of long pieces
  (longer ones, and short ones with many ids), whose BPE is the slowest to redo.

The lookups the encode loop makes per piece are inline in _piece_cache.pxd.
"""
cimport cython
from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcmp, memcpy, memset

from bpe._memory cimport zeroed_alloc, zeroed_free


@cython.final
cdef class PieceSlots:
    """The tables of short pieces (16 MB of lines and 2 MB of wide slots, touched as used:
    fresh zero pages, so that a tokenizer that encodes a few sentences holds a few of them),
    shared by every PieceCache of a tokenizer: a piece one thread has encoded is a hit for
    all of them.

    packed: whether a way holds its ids as 16 bits (up to MAX_IDS_16 of them, each under
    2**16), as for vocabularies of up to 2**16 tokens; else as 32 bits (up to MAX_IDS_32).
    Either way a piece whose ids do not fit goes to a wide slot, so the choice is one of
    speed only: a table of one form copies a hit's ids without asking which.

    Attributes: lines (1 << bits of them), mask (bits ones) and shift; wide (1 << (bits -
    WIDE_SHIFT) slots, at least one) and wide_mask; packed.
    Thread-safety: any number of threads read and write them at once (each line and slot a
    seqlock)."""

    def __cinit__(self, int bits=CACHE_BITS, bint packed=True):
        if not 0 <= bits <= 30:
            raise ValueError(f"bits must be in 0..30, got {bits}")
        self.packed = packed
        self.mask = (<uint64_t>1 << bits) - 1
        self.shift = 64 - bits if bits else 63
        self.wide_mask = (<uint64_t>1 << max(bits - WIDE_SHIFT, 0)) - 1
        self.lines = <CacheLine*>zeroed_alloc((self.mask + 1) * sizeof(CacheLine))
        self.wide = <CacheSlot*>zeroed_alloc((self.wide_mask + 1) * sizeof(CacheSlot))
        if self.lines == NULL or self.wide == NULL:
            raise MemoryError("no memory for the piece cache")

    def __dealloc__(self):
        if self.lines != NULL:
            zeroed_free(self.lines, (self.mask + 1) * sizeof(CacheLine))
        if self.wide != NULL:
            zeroed_free(self.wide, (self.wide_mask + 1) * sizeof(CacheSlot))

    @property
    def bits(self):
        """The table has 1 << bits lines."""
        return (self.mask + 1).bit_length() - 1


@cython.final
cdef class PieceCache:
    """Piece bytes -> ids for recently seen pieces, bounded: the shared short-piece table
    (PieceSlots; a new one when none is given), and this cache's own table of long pieces
    (CJK runs, indentation, rules, long words): 1 << long_bits slots in sets of LONG_WAYS,
    holding at most LONG_BUDGET (16 MB) of pieces and ids. Pieces past LONG_MAX_BYTES
    bytes are not cached.

    The sets let a piece stay while others whose hashes meet it come and go. The mix
    corpus (78 MB) holds about 38 thousand pieces that go here (4.6 MB of them): 24
    thousand of 27 to 256 bytes, the rest short ones with more ids than a wide slot holds
    (runs of CJK, mostly). In one slot per hash, 16,384 of them, encoding its CJK-heavy
    second 10 MB again missed 40,718 pieces; in sets of these, 7,024.

    Attributes: shared (the PieceSlots) and its lines, mask, shift, wide, wide_mask and
    packed, copied here for the encode loop; long_slots (each set on a 64-byte line of
    long_block), long_mask, long_bytes (what the table's allocations hold), long_turn (the
    way a full set gives up next); the counters hits and misses.
    Thread-safety: one thread at a time uses a PieceCache (the tokenizer lends them out)."""

    def __cinit__(self, PieceSlots shared=None, int long_bits=LONG_BITS):
        if not 2 <= long_bits <= 24:
            raise ValueError(f"long_bits must be in 2..24, got {long_bits}")
        self.shared = shared if shared is not None else PieceSlots()
        self.lines = self.shared.lines
        self.mask = self.shared.mask
        self.shift = self.shared.shift
        self.wide = self.shared.wide
        self.wide_mask = self.shared.wide_mask
        self.packed = self.shared.packed
        self.long_mask = (<uint64_t>1 << long_bits) - 1
        self.long_block = calloc(self.long_mask + 1 + LONG_WAYS, sizeof(LongSlot))
        if self.long_block == NULL:
            raise MemoryError("no memory for the piece cache")
        self.long_slots = <LongSlot*>((<uintptr_t>self.long_block + 63) & ~<uintptr_t>63)

    def __dealloc__(self):
        cdef Py_ssize_t k
        if self.long_slots != NULL:
            for k in range(<Py_ssize_t>self.long_mask + 1):
                free(self.long_slots[k].ids)
            free(self.long_block)

    @property
    def long_held(self):
        """(pieces, bytes) the long-piece table holds."""
        cdef Py_ssize_t k, pieces = 0
        for k in range(<Py_ssize_t>self.long_mask + 1):
            pieces += self.long_slots[k].ids != NULL
        return pieces, self.long_bytes

    cdef LongSlot* long_set(self, uint64_t h) noexcept nogil:
        """The first of the LONG_WAYS slots where a long piece of hash h may be."""
        return &self.long_slots[h & self.long_mask & ~<uint64_t>(LONG_WAYS - 1)]

    cdef Py_ssize_t find_long(self, const uint8_t* text, Py_ssize_t n, uint64_t h,
                              int32_t* dst) noexcept nogil:
        """Copy the cached ids of a long piece (h: hash_bytes of it) to dst: their number,
        or -1 if not cached."""
        cdef LongSlot* slot = self.long_set(h)
        cdef uint32_t tag = <uint32_t>(h >> 32)
        cdef int w
        for w in range(LONG_WAYS):
            if (slot[w].ids != NULL and slot[w].hash == tag and slot[w].n_bytes == n and
                    memcmp(<uint8_t*>(slot[w].ids + slot[w].n_ids), text, n) == 0):
                memcpy(dst, slot[w].ids, slot[w].n_ids * sizeof(int32_t))
                return slot[w].n_ids
        return -1

    cdef void keep_long(self, const uint8_t* text, Py_ssize_t n, uint64_t h,
                        const int32_t* ids, Py_ssize_t m) noexcept nogil:
        """Cache the m ids of a long piece (h: hash_bytes of it) in a slot of its set: an
        empty one, else the one whose turn it is (they take turns across sets, so a piece
        stays for about LONG_WAYS rounds of the others). Not kept where it is already (a
        short piece whose wide slot was taken by another), or where it would take the
        table past LONG_BUDGET bytes."""
        cdef LongSlot* first = self.long_set(h)
        cdef LongSlot* slot = NULL
        cdef uint32_t tag = <uint32_t>(h >> 32)
        cdef Py_ssize_t size = m * sizeof(int32_t) + n
        cdef int32_t* block
        cdef int w
        for w in range(LONG_WAYS):
            if first[w].ids == NULL:
                if slot == NULL:
                    slot = &first[w]
            elif (first[w].hash == tag and first[w].n_bytes == n and
                    memcmp(<uint8_t*>(first[w].ids + first[w].n_ids), text, n) == 0):
                return
        if slot == NULL:
            slot = &first[self.long_turn % LONG_WAYS]
            self.long_turn += 1
            self.long_bytes -= slot.n_ids * sizeof(int32_t) + slot.n_bytes
            free(slot.ids)
            slot.ids = NULL
        if self.long_bytes + size > LONG_BUDGET:
            return                      # not cached; nothing is lost
        block = <int32_t*>malloc(size)
        if block == NULL:
            return
        memcpy(block, ids, m * sizeof(int32_t))
        memcpy(<uint8_t*>(block + m), text, n)
        slot.ids = block
        slot.hash = tag
        slot.n_bytes = <uint16_t>n
        slot.n_ids = <uint16_t>m
        self.long_bytes += size


cdef void keep_short(CacheSlot* slot, const uint8_t* text, Py_ssize_t n, const int32_t* ids,
                     Py_ssize_t m) noexcept nogil:
    """Write a piece of n <= CACHE_MAX_BYTES bytes and its m ids into its wide slot (past
    CACHE_MAX_IDS ids the slot says MANY_IDS: they are in the long-piece table), unless
    another thread is writing the slot."""
    cdef uint32_t seen
    if bpe_slot_lock(&slot.version, &seen):
        slot.n_bytes = <uint8_t>n
        memset(slot.text, 0, CACHE_MAX_BYTES)
        memcpy(slot.text, text, n)
        slot.n_ids = <uint8_t>m if m <= CACHE_MAX_IDS else MANY_IDS
        memcpy(slot.ids, ids, min(m, CACHE_MAX_IDS) * sizeof(int32_t))
        bpe_slot_unlock(&slot.version, seen)


cdef bint keep_in_line(CacheLine* line, uint64_t low, uint64_t high, Py_ssize_t n,
                       const int32_t* ids, Py_ssize_t m, bint packed) noexcept nogil:
    """Write a piece of n <= KEY_BYTES bytes (its key: low, high) and its m ids into a way
    of its line, if they fit (packed: MAX_IDS_16 ids under 2**16; else MAX_IDS_32 ids) and
    no other thread is writing the line: into the way that holds the piece already, else
    the first if it is empty, else the second. The first way keeps the first piece that
    came to the line, and the second the latest: the first to come is most often a
    frequent one (on the mix corpus's second pass this misses fewer pieces than first in,
    first out or least recently used, and finds 94% of hits in the first way, whose branch
    is then predicted). If they do not fit, mark the line IN_WIDE and return False: the
    caller keeps them in the piece's wide slot."""
    cdef uint32_t seen
    cdef uint8_t in_wide
    cdef uint16_t narrow[MAX_IDS_16]
    cdef Py_ssize_t k
    cdef int w = 0
    cdef bint fits = m <= (MAX_IDS_16 if packed else MAX_IDS_32)
    if packed:
        for k in range(min(m, MAX_IDS_16)):
            fits &= <uint32_t>ids[k] < 1 << 16
    if not bpe_slot_lock(&line.version, &seen):
        return True                        # busy: the piece is not kept
    in_wide = (line.form[0] | line.form[1]) & IN_WIDE
    if not fits:
        line.form[0] |= IN_WIDE
        line.form[1] |= IN_WIDE
        bpe_slot_unlock(&line.version, seen)
        return False
    if line.n_bytes[0] != 0 and not way_is(line, 0, low, high, n):
        w = 1
    line.n_bytes[w] = <uint8_t>n
    line.form[w] = m | in_wide
    line.key[2 * w], line.key[2 * w + 1] = low, high
    memset(line.ids + 12 * w, 0, 12)
    if packed:
        for k in range(m):
            narrow[k] = <uint16_t>ids[k]
        memcpy(line.ids + 12 * w, narrow, m * sizeof(uint16_t))
    else:
        memcpy(line.ids + 12 * w, ids, m * sizeof(int32_t))
    bpe_slot_unlock(&line.version, seen)
    return True
