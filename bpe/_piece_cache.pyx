# cython: language_level=3
"""The piece cache: piece bytes -> ids, for pieces seen before, so that a piece met again
costs a lookup instead of its BPE.

- PieceSlots: the direct-mapped table of short pieces (up to CACHE_MAX_BYTES bytes and
  CACHE_MAX_IDS ids), one 64-byte slot each, shared by every thread of a tokenizer. Each
  slot is a seqlock (include/bpe_seqlock.h): readers never wait, a writer that finds a slot
  busy skips it, and a read torn by a writer is thrown away.
- PieceCache: one thread's handle on the shared slots, plus its own table of long pieces
  (longer ones, and short ones with many ids), whose BPE is the slowest to redo.

The lookups the encode loop makes per piece are inline in _piece_cache.pxd.
"""
cimport cython
from libc.stdint cimport int32_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcmp, memcpy, memset

from bpe._memory cimport zeroed_alloc, zeroed_free


@cython.final
cdef class PieceSlots:
    """The direct-mapped table of short pieces (16 MB, touched as used: fresh zero pages,
    so that a tokenizer that encodes a few sentences holds a few of them), shared by every
    PieceCache of a tokenizer: a piece one thread has encoded is a hit for all of them.

    Attributes: slots (1 << bits of them), mask (bits ones).
    Thread-safety: any number of threads read and write it at once (each slot a seqlock)."""

    def __cinit__(self, int bits=CACHE_BITS):
        if not 0 <= bits <= 30:
            raise ValueError(f"bits must be in 0..30, got {bits}")
        self.mask = (<uint64_t>1 << bits) - 1
        self.slots = <CacheSlot*>zeroed_alloc((self.mask + 1) * sizeof(CacheSlot))
        if self.slots == NULL:
            raise MemoryError("no memory for the piece cache")

    def __dealloc__(self):
        zeroed_free(self.slots, (self.mask + 1) * sizeof(CacheSlot))

    @property
    def bits(self):
        """The table has 1 << bits slots."""
        return (self.mask + 1).bit_length() - 1


@cython.final
cdef class PieceCache:
    """Piece bytes -> ids for recently seen pieces, bounded: the shared short-piece table
    (PieceSlots; a new one when none is given), and this cache's own table of 16384 long
    pieces (CJK runs, indentation, rules, long words; at most 21 MB, typically 2 MB). Pieces
    past LONG_MAX_BYTES bytes are not cached.

    Attributes: shared (the PieceSlots), slots and mask (its table), long_slots, and the
    counters hits and misses.
    Thread-safety: one thread at a time uses a PieceCache (the tokenizer lends them out)."""

    def __cinit__(self, PieceSlots shared=None):
        self.shared = shared if shared is not None else PieceSlots()
        self.slots = self.shared.slots
        self.mask = self.shared.mask
        self.long_slots = <LongSlot*>calloc(LONG_SLOTS, sizeof(LongSlot))
        if self.long_slots == NULL:
            raise MemoryError("no memory for the piece cache")

    def __dealloc__(self):
        cdef Py_ssize_t k
        if self.long_slots != NULL:
            for k in range(LONG_SLOTS):
                free(self.long_slots[k].ids)
            free(self.long_slots)

    cdef Py_ssize_t find_long(self, const uint8_t* text, Py_ssize_t n, uint64_t h,
                              int32_t* dst) noexcept nogil:
        """Copy the cached ids of a long piece (h: hash_bytes of it) to dst: their number,
        or -1 if not cached."""
        cdef LongSlot* slot = &self.long_slots[h & (LONG_SLOTS - 1)]
        if (slot.ids == NULL or slot.hash != h or slot.n_bytes != n or
                memcmp(<uint8_t*>(slot.ids + slot.n_ids), text, n) != 0):
            return -1
        memcpy(dst, slot.ids, slot.n_ids * sizeof(int32_t))
        return slot.n_ids

    cdef void keep_long(self, const uint8_t* text, Py_ssize_t n, uint64_t h,
                        const int32_t* ids, Py_ssize_t m) noexcept nogil:
        """Cache the m ids of a long piece (h: hash_bytes of it), in place of the slot's."""
        cdef LongSlot* slot = &self.long_slots[h & (LONG_SLOTS - 1)]
        cdef int32_t* block = <int32_t*>malloc(m * sizeof(int32_t) + n)
        if block == NULL:
            return                      # not cached; nothing is lost
        free(slot.ids)
        memcpy(block, ids, m * sizeof(int32_t))
        memcpy(<uint8_t*>(block + m), text, n)
        slot.ids = block
        slot.hash = h
        slot.n_bytes = n
        slot.n_ids = m


cdef void keep_short(CacheSlot* slot, const uint8_t* text, Py_ssize_t n, const int32_t* ids,
                     Py_ssize_t m) noexcept nogil:
    """Write a piece of n <= CACHE_MAX_BYTES bytes and its m ids into its slot (past
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
