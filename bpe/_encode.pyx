# cython: language_level=3
"""Encoding and decoding kernels: per-piece BPE, the piece cache, the decode arena.

- MergeTable: pair (a, b) -> (rank, new id) in a PackedPairs (or a PairMap when the ids do
  not fit it), plus the id of each single byte.
  Inside a piece, the adjacent pair of lowest rank is merged (leftmost on ties) until no
  pair has a rank. Short pieces use arrays (a scan per merge); long ones a min-heap over a
  linked list, so a megabyte of spaces costs n log n, not n^2.
- PieceSlots, PieceCache: piece bytes -> ids. The short pieces' table is shared by all
  threads of a tokenizer (each slot a seqlock); the long pieces' is one per cache.
- IdBuffer: a growable int32 array the kernels append to.
- TokenArena: all token bytes back to back; decode is a gather.

The kernels hold no Python objects while they work and run with the GIL released.
"""
import numpy as np

cimport cython
cimport numpy as cnp
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.list cimport PyList_GET_ITEM, PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_Check
from cpython.unicode cimport PyUnicode_Check, PyUnicode_DecodeUTF8
from libc.stdint cimport INT64_MAX, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memchr, memcmp, memcpy, memmove, memset
from libcpp.vector cimport vector

from bpe._hashing cimport KEY_BYTES, _load64, hash_bytes, hash_key, load_key
from bpe._memory cimport buffer_grow, table_alloc
from bpe._pairmap cimport (PACKED_ID_BITS, PackedPairs, PairMap, packed_add, packed_free,
                          packed_get, packed_init, packed_pair, pair_key, pairmap_free,
                          pairmap_get, pairmap_get_mixed, pairmap_init, pairmap_mix,
                          pairmap_put)
from bpe._pretokenize cimport PieceWindow, byte_offset, char_count, no_window, piece_end
from bpe._utf8 cimport utf8_to_str, valid_utf8

cnp.import_array()

cdef extern from "Python.h":
    ctypedef struct PyObject
    Py_ssize_t PyUnicode_GET_LENGTH(object text)
    int PyUnicode_KIND(object text)
    const void* PyUnicode_DATA(object text)
    bint PyUnicode_IS_ASCII(object text)
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL
    PyObject** PySequence_Fast_ITEMS(object items)
    void PyObject_GC_Track(object op)
    void PyObject_GC_UnTrack(object op)
    bint PyObject_GC_IsTracked(object op)

cdef extern from *:
    void __builtin_prefetch(const void* address) nogil

cdef extern from *:
    """
    /* Move a[from + 1 .. to) down by one: a few items, where a call to memmove (which
       compilers make of such a loop; the empty asm hides the index from them) costs more
       than the move. */
    template <typename T>
    static inline void bpe_close_gap(T* a, Py_ssize_t from, Py_ssize_t to) {
        for (Py_ssize_t i = from; i + 1 < to; i++) { __asm__("" : "+r"(i)); a[i] = a[i + 1]; }
    }
    """
    void bpe_close_gap(int32_t* a, Py_ssize_t start, Py_ssize_t end) nogil
    void bpe_close_gap(int64_t* a, Py_ssize_t start, Py_ssize_t end) nogil

cdef extern from *:
    """
    #include <vector>
    /* Each thread keeps its last buffer of each kind (ids, a str's UTF-8, decoded bytes;
       up to 64 MB each) for the next call: a fresh one of many megabytes costs a page
       fault per 4 KB on first touch, about as much as the work done in it. */
    enum { SPARE_IDS, SPARE_TEXT, SPARE_DECODE, N_SPARES };
    struct BpeSpare {
        void* data = nullptr;
        size_t capacity = 0;          // bytes
        ~BpeSpare() { free(data); }
    };
    static thread_local BpeSpare bpe_spares[N_SPARES];
    static void* bpe_take_spare(int kind, size_t* capacity) {
        BpeSpare& spare = bpe_spares[kind];
        void* data = spare.data;
        *capacity = spare.capacity;
        spare.data = nullptr;
        spare.capacity = 0;
        return data;
    }
    static void bpe_give_spare(int kind, void* data, size_t capacity) {
        BpeSpare& spare = bpe_spares[kind];
        if (spare.data == nullptr && capacity <= ((size_t)64 << 20)) {
            spare.data = data;
            spare.capacity = capacity;
        } else {
            free(data);
        }
    }

    // Encode's lists hold the ints of PinnedInts: one block of int objects, id k at
    // k << BPE_INT_SHIFT, each pinned with a count of references no list can bring down
    // to zero (on Python 3.12+ it reads as immortal), so a list takes references without
    // counting them, and is filled without the GIL.
    #define BPE_INT_SHIFT 5
    static void bpe_pin(PyObject* value) {
    #ifndef Py_GIL_DISABLED
        Py_SET_REFCNT(value, PY_SSIZE_T_MAX >> 2);
    #endif
    }

    // Point items[k] at the int of ids[k] in the block; -2 for an id past its m ints.
    static int bpe_gather_ints(const int32_t* ids, size_t n, char* block, size_t m,
                               PyObject** items) noexcept {
        for (size_t k = 0; k < n; k++) {
            uint32_t t = (uint32_t)ids[k];
            if (t >= m) return -2;
            items[k] = (PyObject*)(block + ((size_t)t << BPE_INT_SHIFT));
    #ifdef Py_GIL_DISABLED
            Py_INCREF(items[k]);      // atomic there, and no count is pinned
    #endif
        }
        return 0;
    }
    """
    enum: BPE_INT_SHIFT
    void bpe_pin(PyObject* value)
    int bpe_gather_ints(const int32_t* ids, size_t n, char* block, size_t m, PyObject** items) nogil
    enum:
        SPARE_IDS
        SPARE_TEXT
        SPARE_DECODE
    void* bpe_take_spare(int kind, size_t* capacity) nogil
    void bpe_give_spare(int kind, void* data, size_t capacity) nogil

cdef extern from "<string.h>":
    void* memmem(const void* haystack, size_t haystack_size, const void* needle,
                 size_t needle_size) nogil

cdef enum:
    SHORT_PIECE = 96        # pieces up to this many bytes use the array algorithm
    STACK_PIECE = 256       # merge_long's buffers live on the stack up to this many bytes
    CACHE_BITS = 18         # the short-piece table has 1 << CACHE_BITS slots
    CACHE_MAX_BYTES = 26    # longer pieces go to the long-piece cache
    CACHE_MAX_IDS = 8
    MANY_IDS = 255          # a slot's n_ids when the piece's ids are in the long-piece cache
    BLOCK = 64              # pieces found (their cache slots prefetched) before they are encoded
    LONG_SLOTS = 1 << 14    # the long-piece cache: longer pieces, and short ones with many ids
    LONG_MAX_BYTES = 256    # at most 16384 * (256 B + 1 KB of ids): 21 MB, typically 2 MB

SHORT_PIECE_BYTES = SHORT_PIECE    # for tests: longer pieces take the heap algorithm


cdef struct LongSlot:
    uint64_t hash
    Py_ssize_t n_bytes
    Py_ssize_t n_ids
    int32_t* ids            # one allocation: the ids, then the piece's bytes (NULL: empty)


cdef struct CacheSlot:      # 64 bytes: one cache line
    uint32_t version        # a seqlock: odd while a thread writes the slot
    uint8_t n_bytes         # 0: empty
    uint8_t n_ids
    uint8_t text[CACHE_MAX_BYTES]   # zero past n_bytes: its first 16 bytes are a piece's key
    int32_t ids[CACHE_MAX_IDS]


cdef extern from *:
    """
    /* The short-piece slots are seqlocks, so that threads share them without a lock: a
       writer makes the version odd (a compare-and-swap: a busy slot is just not written),
       writes, and makes it even again; a reader keeps what it read only if the version
       was even and did not change meanwhile. */
    static inline uint32_t bpe_slot_version(const uint32_t* v) {
        return __atomic_load_n(v, __ATOMIC_ACQUIRE);
    }
    static inline int bpe_slot_unchanged(const uint32_t* v, uint32_t seen) {
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        return !(seen & 1) && __atomic_load_n(v, __ATOMIC_RELAXED) == seen;
    }
    static inline int bpe_slot_lock(uint32_t* v, uint32_t* seen) {
        uint32_t now = __atomic_load_n(v, __ATOMIC_RELAXED);
        *seen = now;
        return !(now & 1) && __atomic_compare_exchange_n(v, &now, now + 1, 0,
                                                         __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
    }
    static inline void bpe_slot_unlock(uint32_t* v, uint32_t seen) {
        __atomic_store_n(v, seen + 2, __ATOMIC_RELEASE);
    }
    """
    uint32_t bpe_slot_version(const uint32_t* v) nogil
    bint bpe_slot_unchanged(const uint32_t* v, uint32_t seen) nogil
    bint bpe_slot_lock(uint32_t* v, uint32_t* seen) nogil
    void bpe_slot_unlock(uint32_t* v, uint32_t seen) nogil


@cython.final
cdef class PieceSlots:
    """The direct-mapped table of short pieces (up to CACHE_MAX_BYTES bytes and
    CACHE_MAX_IDS ids; 16 MB, touched as used), shared by every PieceCache of a tokenizer:
    a piece one thread has encoded is a hit for all of them."""
    cdef CacheSlot* slots
    cdef uint64_t mask

    def __cinit__(self, int bits=CACHE_BITS):
        if not 0 <= bits <= 30:
            raise ValueError(f"bits must be in 0..30, got {bits}")
        self.mask = (<uint64_t>1 << bits) - 1
        self.slots = <CacheSlot*>table_alloc((self.mask + 1) * sizeof(CacheSlot), 0)
        if self.slots == NULL:
            raise MemoryError("no memory for the piece cache")

    def __dealloc__(self):
        free(self.slots)


@cython.final
cdef class PieceCache:
    """Piece bytes -> ids for recently seen pieces, bounded: the shared short-piece table
    (PieceSlots; a new one when none is given), and this cache's own table of 16384 long
    pieces (CJK runs, indentation, rules, long words; at most 21 MB, typically 2 MB), whose
    BPE is the slowest to redo. Pieces past 256 bytes are not cached. One thread at a
    time uses a PieceCache."""
    cdef PieceSlots shared
    cdef CacheSlot* slots
    cdef uint64_t mask
    cdef LongSlot* long_slots
    cdef public long long hits, misses

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

    cdef inline CacheSlot* slot_for(self, const uint8_t* text, Py_ssize_t n,
                                    const uint8_t* limit) noexcept nogil:
        """The slot of a piece of 1..CACHE_MAX_BYTES bytes that ends by limit (the end of
        the buffer it is in): up to KEY_BYTES bytes, by its key (see load_key)."""
        cdef uint64_t low, high
        if n <= KEY_BYTES:
            load_key(text, n, limit, &low, &high)
            return &self.slots[hash_key(low, high) & self.mask]
        return &self.slots[hash_bytes(text, n) & self.mask]

    cdef Py_ssize_t find_long(self, const uint8_t* text, Py_ssize_t n, uint64_t h,
                              int32_t* dst) noexcept nogil:
        """Copy the cached ids of a long piece to dst: their number, or -1 if not cached."""
        cdef LongSlot* slot = &self.long_slots[h & (LONG_SLOTS - 1)]
        if (slot.ids == NULL or slot.hash != h or slot.n_bytes != n or
                memcmp(<uint8_t*>(slot.ids + slot.n_ids), text, n) != 0):
            return -1
        memcpy(dst, slot.ids, slot.n_ids * sizeof(int32_t))
        return slot.n_ids

    cdef void keep_long(self, const uint8_t* text, Py_ssize_t n, uint64_t h,
                        const int32_t* ids, Py_ssize_t m) noexcept nogil:
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


@cython.final
cdef class IdBuffer:
    """A growable int32 array the encode kernels write ids into. Its memory comes from,
    and goes back to, the thread's spare (see bpe_take_spare)."""
    cdef int32_t* data
    cdef size_t size
    cdef size_t capacity

    def __dealloc__(self):
        if self.data != NULL:
            bpe_give_spare(SPARE_IDS, self.data, self.capacity * sizeof(int32_t))

    cdef int reserve(self, size_t extra) noexcept nogil:
        """Room for `extra` more ids; 0 on success, -1 when out of memory."""
        cdef size_t capacity
        cdef int32_t* grown
        if self.data == NULL:                  # first use: the thread's spare, if any
            self.data = <int32_t*>bpe_take_spare(SPARE_IDS, &capacity)
            self.capacity = capacity // sizeof(int32_t)
        if self.size + extra <= self.capacity:
            return 0
        capacity = self.capacity if self.capacity else 1024
        while capacity < self.size + extra:
            capacity *= 2
        grown = <int32_t*>buffer_grow(self.data, self.size * sizeof(int32_t),
                                      capacity * sizeof(int32_t))
        if grown == NULL:
            return -1
        self.data = grown
        self.capacity = capacity
        return 0

    def append(self, int32_t token_id):
        if self.reserve(1) != 0:
            raise MemoryError("no memory for more ids")
        self.data[self.size] = token_id
        self.size += 1

    def __len__(self):
        return self.size

    def to_numpy(self, bint small=False):
        """The ids as int32, or as uint16 when `small` (the caller knows they fit)."""
        cdef size_t k, n = self.size
        cdef int32_t[::1] wide
        cdef uint16_t[::1] narrow
        if small:
            out = np.empty(n, dtype=np.uint16)
            narrow = out
            with nogil:
                for k in range(n):
                    narrow[k] = <uint16_t>self.data[k]
            return out
        out = np.empty(n, dtype=np.int32)
        wide = out
        if n:
            with nogil:
                memcpy(&wide[0], self.data, n * sizeof(int32_t))
        return out

    def to_list(self, ints):
        """The ids as a list of Python ints, each one the shared object ints[id], so that
        no int is made and no reference counted (see PinnedInts); the list is filled
        without the GIL: several times faster than NumPy's tolist."""
        cdef Py_ssize_t end = self.size
        cdef char keep = 0
        result = PyList_New(end)
        _fill_lists([result], self.data, &end, &keep, ints)
        return result

    def clear(self):
        self.size = 0


cdef struct StrView:
    const void* data
    Py_ssize_t length
    int kind                # 1, 2 or 4 bytes a code point
    bint ascii


cdef inline StrView _view(str text):
    cdef StrView view
    view.data = PyUnicode_DATA(text)
    view.length = PyUnicode_GET_LENGTH(text)
    view.kind = PyUnicode_KIND(text)
    view.ascii = PyUnicode_IS_ASCII(text)
    return view


cdef char* _int_block = NULL       # the pinned ints 0.._block_ints-1; an older, smaller
cdef Py_ssize_t _block_ints = 0    # block is kept (lists may hold its ints), never freed


@cython.final
cdef class PinnedInts:
    """The ints 0..n-1 for encode's lists (made by pinned_ints), side by side in one block
    as CPython keeps its own small ints: id k at k << BPE_INT_SHIFT, each a byte copy of
    the int Python makes, pinned, so that a list holds them without counting references.
    decode_list reads the id of such an int from its address, without touching it. Every
    table of a process shares the latest block; blocks are never freed, as small ints are
    not."""
    cdef char* block
    cdef readonly Py_ssize_t n

    def __len__(self):
        return self.n

    def __getitem__(self, Py_ssize_t k):
        if not 0 <= k < self.n:
            raise IndexError(f"int {k} is not in a table of {self.n}")
        return <object><PyObject*>(self.block + (k << BPE_INT_SHIFT))


def pinned_ints(Py_ssize_t n):
    """A PinnedInts of the ints 0..n-1 (a new block when the latest is too small: at least
    twice its size, so that growing vocabularies make few)."""
    global _int_block, _block_ints
    cdef Py_ssize_t k, size, nbytes
    cdef char* block
    cdef object value
    if n > _block_ints:
        size = max(n, 2 * _block_ints)
        block = <char*>table_alloc(<size_t>size << BPE_INT_SHIFT, 0)
        if block == NULL:
            raise MemoryError(f"no memory for {size} ints")
        for k in range(size):
            value = k
            nbytes = value.__sizeof__()
            if nbytes > (1 << BPE_INT_SHIFT):
                free(block)
                raise OverflowError(f"the int {k} takes {nbytes} bytes, more than {1 << BPE_INT_SHIFT}")
            memcpy(block + (k << BPE_INT_SHIFT), <PyObject*>value, nbytes)
            bpe_pin(<PyObject*>(block + (k << BPE_INT_SHIFT)))
        _int_block, _block_ints = block, size
    cdef PinnedInts ints = PinnedInts.__new__(PinnedInts)
    ints.block, ints.n = _int_block, n
    return ints


def track_lists(list lists):
    """Have the garbage collector track the lists not yet tracked (encode_many's).

    A batch makes a list per text, and every few hundred new lists the collector walks the
    young ones, each item of each: a tenth of a batch's time in a profile, under the GIL,
    while the lists were made tracked. A list of ints being built is in no cycle; it is
    tracked before the caller sees it, as any list is."""
    for item in lists:
        if type(item) is list and not PyObject_GC_IsTracked(item):
            PyObject_GC_Track(item)


cdef _fill_lists(list lists, const int32_t* ids, const Py_ssize_t* ends, const char* skipped,
                 object ints):
    """Fill lists[k] (made empty of items by PyList_New) with ints[id] for the ids in
    [ends[k - 1], ends[k]), as IdBuffer.to_list does, without the GIL."""
    if type(ints) is not PinnedInts:
        raise TypeError(f"ints must be a PinnedInts (see pinned_ints), got {type(ints).__name__}")
    cdef Py_ssize_t k, n = len(lists), m = (<PinnedInts>ints).n, start = 0
    cdef char* block = (<PinnedInts>ints).block
    cdef vector[PyObject**] items
    cdef int status = 0
    items.resize(n)
    for k in range(n):
        if not skipped[k]:
            items[k] = PySequence_Fast_ITEMS(lists[k])
    with nogil:
        for k in range(n):
            if not skipped[k]:
                status = bpe_gather_ints(ids + start, ends[k] - start, block, m, items[k])
                if status != 0:
                    break
            start = ends[k]
    if status != 0:
        start = 0
        for k in range(n):                     # uncounted: not ours to drop
            if not skipped[k]:
                memset(items[k], 0, (ends[k] - start) * sizeof(PyObject*))
            start = ends[k]
        raise ValueError(f"an id has no int in a table of {m}")


cdef inline bint _holds_key(const CacheSlot* slot, const uint8_t* text, Py_ssize_t n,
                            const uint8_t* limit) noexcept nogil:
    """Whether the slot holds the piece text[:n] (n <= KEY_BYTES, ending by limit): its key
    and its length, compared without a branch on n."""
    cdef uint64_t low, high
    load_key(text, n, limit, &low, &high)
    return _slot_key_is(slot, low, high, n)


cdef inline bint _slot_key_is(const CacheSlot* slot, uint64_t low, uint64_t high,
                              Py_ssize_t n) noexcept nogil:
    """Whether the slot holds the piece of n <= KEY_BYTES bytes whose key is low, high."""
    return ((_load64(slot.text) ^ low) | (_load64(slot.text + 8) ^ high)
            | <uint64_t>(slot.n_bytes ^ n)) == 0


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


@cython.final
cdef class Specials:
    """Special tokens as the kernels search for them: UTF-8 bytes (longest first) and ids.
    Read-only once made, so threads share one."""
    cdef vector[const uint8_t*] needles
    cdef vector[Py_ssize_t] sizes
    cdef vector[int32_t] ids
    cdef Py_ssize_t count
    cdef int first                      # the byte all of them start with and hold nowhere
    cdef tuple tokens                   # else (-1); keeps the bytes alive

    def __cinit__(self, tuple tokens, const int32_t[::1] ids):
        if ids.shape[0] != len(tokens):
            raise ValueError("special tokens and their ids differ in number")
        self.tokens = tokens
        self.count = len(tokens)
        for k, token in enumerate(tokens):
            if not isinstance(token, bytes) or not token:
                raise ValueError(f"special token {token!r} must be non-empty bytes")
            self.needles.push_back(<const uint8_t*>PyBytes_AS_STRING(token))
            self.sizes.push_back(len(<bytes>token))
            self.ids.push_back(ids[k])
        starts = {token[0] for token in tokens}
        self.first = -1
        if len(starts) == 1 and all(token.count(token[:1]) == 1 for token in tokens):
            self.first = tokens[0][0]        # "<|endoftext|>" and its kind: one scan finds them

    cdef Py_ssize_t next_one(self, const uint8_t* s, Py_ssize_t n, Py_ssize_t pos,
                             Py_ssize_t* found, Py_ssize_t* which) noexcept nogil:
        """The leftmost special token in s[pos:n], the longest of those starting there:
        its start, its index in which; n and -1 if none. With a first byte (see first), one
        memchr pass for all of them; linear, as no token holds its first byte again (a
        partial match ends before the next candidate). Else one memmem pass per token,
        found[j] keeping where token j was last found (-1 nowhere, -2 not searched yet)."""
        cdef const uint8_t* p
        cdef Py_ssize_t j, at, k = -1
        if self.first < 0:
            for j in range(self.count):
                if found[j] == -2 or 0 <= found[j] < pos:
                    found[j] = _find(s, n, pos, self.needles[j], self.sizes[j])
                if found[j] >= 0 and (k < 0 or found[j] < found[k]):   # ties: the longer,
                    k = j                                              # listed first
            which[0] = k
            return found[k] if k >= 0 else n
        while pos < n:
            p = <const uint8_t*>memchr(s + pos, self.first, n - pos)
            if p == NULL:
                break
            at = p - s
            for j in range(self.count):               # longest first
                if self.sizes[j] <= n - at and memcmp(p, self.needles[j], self.sizes[j]) == 0:
                    which[0] = j
                    return at
            pos = at + 1
        which[0] = -1
        return n


cdef vector[int32_t] _merge_ranks(const int32_t[::1] merged):
    """The rank of each merge: its place in the list, or, in a run of merges that make one
    token (tiktoken's splits of it: merges_from_ranks), the run's first place. Such merges
    tie, and the leftmost pair goes first, as in tiktoken."""
    cdef Py_ssize_t k
    cdef vector[int32_t] ranks
    ranks.resize(merged.shape[0])
    for k in range(merged.shape[0]):
        if k > 0 and merged[k] == merged[k - 1] and merged[k] >= 0:
            ranks[k] = ranks[k - 1]
        else:
            ranks[k] = <int32_t>k
    return ranks


@cython.final
cdef class MergeTable:
    """Merge ranks for encoding: merge k joins (left[k], right[k]) into merged[k], at rank
    k (or its run's first place: see _merge_ranks)."""
    cdef PackedPairs packed              # pair -> merged id, which stands for the rank; or
    cdef PairMap ranks                   # pair -> rank << 32 | merged id
    cdef int32_t byte_ids[256]
    cdef int64_t* byte_pair_ranks        # [256 * first byte + second byte]: the first round
    cdef uint64_t junctions[1024]        # a bit per byte pair (x, y): some merge joins a
                                         # token ending in x to one starting with y
    cdef uint64_t* present               # a bit per hash of the pairs that merge: most pairs
    cdef int present_shift               # that don't are turned away without a probe
    cdef readonly Py_ssize_t n_merges

    def __cinit__(self, const int32_t[::1] left, const int32_t[::1] right,
                  const int32_t[::1] merged, const int32_t[::1] byte_ids, bint pack=True):
        """pack=False keeps the pairs in a PairMap even where they fit a PackedPairs (the
        tests compare the two)."""
        if not (left.shape[0] == right.shape[0] == merged.shape[0]):
            raise ValueError("left, right and merged must have the same length")
        if byte_ids.shape[0] != 256:
            raise ValueError(f"byte_ids has {byte_ids.shape[0]} entries, expected 256")
        cdef Py_ssize_t k
        for k in range(256):
            self.byte_ids[k] = byte_ids[k]
        self.n_merges = left.shape[0]
        if not (pack and self.pack(left, right, merged)):
            self.fill_ranks(left, right, merged)
        # The filter: at least 8 bits per merge, indexed by the top bits of the pair's hash.
        cdef int bits = 12
        while (<Py_ssize_t>1 << bits) < 8 * self.n_merges:
            bits += 1
        self.present_shift = 64 - bits
        self.present = <uint64_t*>calloc((<size_t>1 << bits) // 64, sizeof(uint64_t))
        self.byte_pair_ranks = <int64_t*>malloc(65536 * sizeof(int64_t))
        if self.byte_pair_ranks == NULL or self.present == NULL:
            raise MemoryError("no memory for the merge table")
        cdef uint64_t spot
        for k in range(self.n_merges):
            spot = pairmap_mix(pair_key(left[k], right[k])) >> self.present_shift
            self.present[spot >> 6] |= (<uint64_t>1) << (spot & 63)
        for k in range(65536):
            self.byte_pair_ranks[k] = self.rank_of(self.byte_ids[k >> 8], self.byte_ids[k & 255])
        self.find_junctions(left, right, merged)

    cdef bint pack(self, const int32_t[::1] left, const int32_t[::1] right,
                   const int32_t[::1] merged) except -1:
        """Fill the PackedPairs, the merged id standing for the rank, where that orders the
        same: every id below 2**21, and the merged ids never falling down the list (GPT-2's
        vocabularies, tiktoken's, any trained here). Whether it did."""
        cdef Py_ssize_t k
        cdef uint32_t limit = 1 << PACKED_ID_BITS
        for k in range(256):
            if <uint32_t>self.byte_ids[k] >= limit:
                return False
        for k in range(self.n_merges):
            if (<uint32_t>left[k] >= limit or <uint32_t>right[k] >= limit
                    or <uint32_t>merged[k] >= limit or (k > 0 and merged[k] < merged[k - 1])):
                return False
        if packed_init(&self.packed, self.n_merges) != 0:
            raise MemoryError("no memory for the merge table")
        for k in range(self.n_merges):
            packed_add(&self.packed, packed_pair(left[k], right[k]),
                       pairmap_mix(pair_key(left[k], right[k])), <uint64_t>merged[k])
        return True

    cdef fill_ranks(self, const int32_t[::1] left, const int32_t[::1] right,
                    const int32_t[::1] merged):
        """Fill the PairMap with each pair's rank and merged id."""
        cdef Py_ssize_t k
        cdef uint64_t key
        cdef vector[int32_t] ranks = _merge_ranks(merged)
        if pairmap_init(&self.ranks, self.n_merges) != 0:
            raise MemoryError("no memory for the merge table")
        for k in range(self.n_merges):
            key = pair_key(left[k], right[k])
            if pairmap_get(&self.ranks, key, -1) >= 0:
                continue                 # a repeated merge keeps its first (lowest) rank
            if pairmap_put(&self.ranks, key, (<int64_t>ranks[k] << 32) | <uint64_t><uint32_t>merged[k]) != 0:
                raise MemoryError("no memory for the merge table")

    cdef find_junctions(self, const int32_t[::1] left, const int32_t[::1] right,
                        const int32_t[::1] merged):
        """Set a junction bit for the last byte of each merge's left token and the first
        byte of its right one. Where no bit is set, no merge ever joins across: the piece
        splits there into parts encoded on their own, with the same ids (within a part,
        the lowest-rank pair, leftmost on ties, is the lowest of the whole piece there)."""
        cdef Py_ssize_t k, top = 0
        cdef int32_t a, b
        cdef uint32_t pair
        for k in range(256):
            top = max(top, self.byte_ids[k] + 1)
        for k in range(self.n_merges):
            top = max(top, left[k] + 1, right[k] + 1, merged[k] + 1)
        cdef vector[int32_t] first, last        # each token's first and last byte; -1: unknown
        first.assign(top, -1)
        last.assign(top, -1)
        for k in range(256):
            first[self.byte_ids[k]] = last[self.byte_ids[k]] = <int32_t>k
        memset(self.junctions, 0, sizeof(self.junctions))
        for k in range(self.n_merges):
            a, b = left[k], right[k]
            if a < 0 or b < 0 or merged[k] < 0 or last[a] < 0 or first[b] < 0:
                memset(self.junctions, 0xFF, sizeof(self.junctions))   # a merge of tokens
                return                                  # not made yet: never split pieces
            pair = (<uint32_t>last[a] << 8) | <uint32_t>first[b]
            self.junctions[pair >> 6] |= (<uint64_t>1) << (pair & 63)
            first[merged[k]] = first[a]
            last[merged[k]] = last[b]

    def __dealloc__(self):
        packed_free(&self.packed)
        pairmap_free(&self.ranks)
        free(self.byte_pair_ranks)
        free(self.present)

    @property
    def is_packed(self):
        """Whether the pairs are in a PackedPairs (else in a PairMap)."""
        return self.packed.entries != NULL

    cdef inline int64_t rank_of(self, int32_t a, int32_t b) noexcept nogil:
        """rank << 32 | merged id of the pair's merge (packed: merged id << 32 | merged
        id, which orders the same), or INT64_MAX where the pair does not merge."""
        cdef uint64_t key = pair_key(a, b)
        cdef uint64_t mixed = pairmap_mix(key)
        cdef uint64_t spot = mixed >> self.present_shift
        cdef int64_t found
        if self.packed.entries != NULL:      # its line comes in while the filter is read
            __builtin_prefetch(&self.packed.entries[mixed & self.packed.mask])
        if not (self.present[spot >> 6] >> (spot & 63)) & 1:
            return INT64_MAX
        if self.packed.entries != NULL:
            found = packed_get(&self.packed, packed_pair(a, b), mixed, -1)
            return INT64_MAX if found < 0 else (found << 32) | found
        return pairmap_get_mixed(&self.ranks, key, mixed, INT64_MAX)

    cdef Py_ssize_t merge_short(self, const uint8_t* text, Py_ssize_t n, int32_t* out) noexcept nogil:
        cdef int64_t ranks[SHORT_PIECE]
        cdef Py_ssize_t i, best, m = n
        cdef int64_t low
        for i in range(n):
            out[i] = self.byte_ids[text[i]]
        for i in range(n - 1):
            ranks[i] = self.byte_pair_ranks[(<Py_ssize_t>text[i] << 8) | text[i + 1]]
        while m > 1:
            best = 0
            low = ranks[0]
            for i in range(1, m - 1):
                if ranks[i] < low:
                    low = ranks[i]
                    best = i
            if low == INT64_MAX:
                break
            out[best] = <int32_t>(low & 0xFFFFFFFFULL)
            bpe_close_gap(out, best + 1, m)
            bpe_close_gap(ranks, best + 1, m - 1)
            m -= 1
            if best > 0:
                ranks[best - 1] = self.rank_of(out[best - 1], out[best])
            if best < m - 1:
                ranks[best] = self.rank_of(out[best], out[best + 1])
        return m

    cdef Py_ssize_t merge_long(self, const uint8_t* text, Py_ssize_t n, int32_t* out) noexcept nogil:
        """Same result as merge_short, for any n, in n log n: merge_heap on stack buffers,
        or on the heap past STACK_PIECE bytes."""
        cdef int32_t sym[STACK_PIECE]
        cdef int32_t nxt[STACK_PIECE]
        cdef int32_t prv[STACK_PIECE]
        cdef uint64_t heap[3 * STACK_PIECE]
        cdef uint64_t* block
        cdef int32_t* links
        cdef Py_ssize_t m
        if n <= STACK_PIECE:
            return self.merge_heap(text, n, out, sym, nxt, prv, heap)
        if n >= 0x7FFFFFFF:
            return -1                   # positions are 32-bit
        block = <uint64_t*>malloc(n * (3 * sizeof(uint64_t) + 3 * sizeof(int32_t)))
        if block == NULL:
            return -1
        links = <int32_t*>(block + 3 * n)   # the heap first, so that it is 8-byte aligned
        m = self.merge_heap(text, n, out, links, links + n, links + 2 * n, block)
        free(block)
        return m

    cdef Py_ssize_t merge_heap(self, const uint8_t* text, Py_ssize_t n, int32_t* out,
                               int32_t* sym, int32_t* nxt, int32_t* prv,
                               uint64_t* heap) noexcept nogil:
        """BPE of a piece as a linked list of symbols and a min-heap of (rank, position)
        entries (room for 3n: n - 1 to start, at most 2 pushes per merge). An entry whose
        pair has changed since it was pushed is skipped when popped."""
        cdef Py_ssize_t i, m = 0, size = 0, pos, right
        cdef int64_t found
        cdef uint64_t top
        for i in range(n):
            sym[i] = self.byte_ids[text[i]]
            nxt[i] = <int32_t>(i + 1) if i + 1 < n else -1
            prv[i] = <int32_t>(i - 1)
        for i in range(n - 1):
            found = self.byte_pair_ranks[(<Py_ssize_t>text[i] << 8) | text[i + 1]]
            if found != INT64_MAX:
                heap[size] = ((<uint64_t>found >> 32) << 32) | <uint64_t>i
                size += 1
        for i in range(size // 2 - 1, -1, -1):
            _sift_down(heap, size, i)
        while size > 0:
            top = heap[0]
            size -= 1
            heap[0] = heap[size]
            _sift_down(heap, size, 0)
            pos = <Py_ssize_t>(top & 0xFFFFFFFFULL)
            if sym[pos] < 0 or nxt[pos] < 0:
                continue                 # merged away, or now the last symbol
            right = nxt[pos]
            found = self.rank_of(sym[pos], sym[right])
            if found == INT64_MAX or (<uint64_t>found >> 32) != (top >> 32):
                continue                 # stale: the pair here changed since the push
            sym[pos] = <int32_t>(found & 0xFFFFFFFFULL)
            sym[right] = -1
            nxt[pos] = nxt[right]
            if nxt[pos] >= 0:
                prv[nxt[pos]] = <int32_t>pos
                found = self.rank_of(sym[pos], sym[nxt[pos]])
                if found != INT64_MAX:
                    size = _push(heap, size, ((<uint64_t>found >> 32) << 32) | <uint64_t>pos)
            if prv[pos] >= 0:
                found = self.rank_of(sym[prv[pos]], sym[pos])
                if found != INT64_MAX:
                    size = _push(heap, size, ((<uint64_t>found >> 32) << 32) | <uint64_t>prv[pos])
        pos = 0
        while pos >= 0:
            out[m] = sym[pos]
            m += 1
            pos = nxt[pos]
        return m

    cdef Py_ssize_t merge_piece(self, const uint8_t* text, Py_ssize_t n, int32_t* out) noexcept nogil:
        """Encode one piece into out (room for n ids); the number of ids, -1 out of memory.
        The piece is cut where no merge joins its bytes (see find_junctions): a run of CJK
        or Cyrillic falls apart into parts of a character or two."""
        cdef Py_ssize_t i, start = 0, m = 0, got
        cdef uint32_t pair
        for i in range(1, n):
            pair = (<uint32_t>text[i - 1] << 8) | text[i]
            if not (self.junctions[pair >> 6] >> (pair & 63)) & 1:
                got = self.merge_part(text + start, i - start, out + m)
                if got < 0:
                    return -1
                m += got
                start = i
        got = self.merge_part(text + start, n - start, out + m)
        return -1 if got < 0 else m + got

    cdef inline Py_ssize_t merge_part(self, const uint8_t* text, Py_ssize_t n, int32_t* out) noexcept nogil:
        cdef int64_t rank
        if n == 1:
            out[0] = self.byte_ids[text[0]]
            return 1
        if n == 2:
            rank = self.byte_pair_ranks[(<Py_ssize_t>text[0] << 8) | text[1]]
            if rank != INT64_MAX:
                out[0] = <int32_t>(rank & 0xFFFFFFFFULL)
                return 1
            out[0] = self.byte_ids[text[0]]
            out[1] = self.byte_ids[text[1]]
            return 2
        if n <= SHORT_PIECE:
            return self.merge_short(text, n, out)
        return self.merge_long(text, n, out)

    cdef inline Py_ssize_t short_hit(self, uint64_t low, uint64_t high, Py_ssize_t n,
                                     int32_t* dst, CacheSlot* slot) noexcept nogil:
        """The common case of encode_in_slot, for the encode loop to inline: a piece of
        1..KEY_BYTES bytes (its key: load_key's low and high words) whose ids are in its
        slot. Their number, written at dst (which has room for CACHE_MAX_IDS), or -1
        (encode_in_slot does the rest)."""
        cdef uint32_t seen = bpe_slot_version(&slot.version)
        cdef Py_ssize_t m = slot.n_ids
        if not _slot_key_is(slot, low, high, n) or m == MANY_IDS:
            return -1
        memcpy(dst, slot.ids, CACHE_MAX_IDS * sizeof(int32_t))   # fixed size: no call
        if not bpe_slot_unchanged(&slot.version, seen):
            return -1
        return m

    cdef int encode_one(self, const uint8_t* text, Py_ssize_t n, IdBuffer out,
                        PieceCache cache) noexcept nogil:
        return self.encode_in_slot(text, n, text + n, out, cache,
                                   cache.slot_for(text, n, text + n) if n <= CACHE_MAX_BYTES else NULL)

    cdef int encode_in_slot(self, const uint8_t* text, Py_ssize_t n, const uint8_t* limit,
                            IdBuffer out, PieceCache cache, CacheSlot* slot) noexcept nogil:
        """Encode one piece, which ends by limit, through its cache slot (NULL: too long to
        cache). The caller has reserved room in out for n + CACHE_MAX_IDS ids."""
        cdef int32_t* dst = out.data + out.size
        cdef Py_ssize_t m
        cdef uint64_t h = 0
        cdef uint32_t seen
        cdef bint cacheable = n <= LONG_MAX_BYTES
        if slot != NULL:
            seen = bpe_slot_version(&slot.version)
            if (_holds_key(slot, text, n, limit) if n <= KEY_BYTES
                    else slot.n_bytes == n and same_piece(slot.text, text, n)):
                m = slot.n_ids
                if m != MANY_IDS:
                    memcpy(dst, slot.ids, CACHE_MAX_IDS * sizeof(int32_t))   # fixed size: no call
                    if bpe_slot_unchanged(&slot.version, seen):
                        out.size += m
                        cache.hits += 1
                        return 0
                elif bpe_slot_unchanged(&slot.version, seen):
                    h = hash_bytes(text, n)    # its ids are in the long-piece cache
                    m = cache.find_long(text, n, h, dst)
                    if m >= 0:
                        out.size += m
                        cache.hits += 1
                        return 0
        elif cacheable:
            h = hash_bytes(text, n)
            m = cache.find_long(text, n, h, dst)
            if m >= 0:
                out.size += m
                cache.hits += 1
                return 0
        cache.misses += 1
        m = self.merge_piece(text, n, dst)
        if m < 0:
            return -1
        out.size += m
        if slot != NULL:
            if m > CACHE_MAX_IDS:              # a run of CJK, say: the ids go to the long cache
                h = hash_bytes(text, n)
                cache.keep_long(text, n, h, dst, m)
            if bpe_slot_lock(&slot.version, &seen):     # else another thread is writing it
                slot.n_bytes = <uint8_t>n
                memset(slot.text, 0, CACHE_MAX_BYTES)
                memcpy(slot.text, text, n)
                slot.n_ids = <uint8_t>m if m <= CACHE_MAX_IDS else MANY_IDS
                memcpy(slot.ids, dst, min(m, CACHE_MAX_IDS) * sizeof(int32_t))
                bpe_slot_unlock(&slot.version, seen)
        elif cacheable:
            cache.keep_long(text, n, h, dst, m)
        return 0

    def encode_pieces(self, list pieces, IdBuffer out, PieceCache cache):
        """Append the ids of each str piece (pre-tokenized, no special tokens) to out."""
        cdef Py_ssize_t n = len(pieces), i
        cdef vector[const uint8_t*] texts
        cdef vector[Py_ssize_t] sizes
        cdef Py_ssize_t size
        cdef int failed = 0
        texts.resize(n)
        sizes.resize(n)
        for i in range(n):
            piece = pieces[i]
            if not PyUnicode_Check(piece):
                raise TypeError(f"piece {i} is {type(piece).__name__}, expected str")
            texts[i] = <const uint8_t*>PyUnicode_AsUTF8AndSize(piece, &size)
            sizes[i] = size
        with nogil:
            for i in range(n):
                if sizes[i] and (out.reserve(sizes[i] + CACHE_MAX_IDS) != 0 or
                                 self.encode_one(texts[i], sizes[i], out, cache) != 0):
                    failed = 1
                    break
        if failed:
            raise MemoryError("out of memory while encoding a piece")

    cdef Py_ssize_t encode_span(self, const uint8_t* s, Py_ssize_t start, Py_ssize_t end,
                                Py_ssize_t byte_limit, int pattern_id, IdBuffer out,
                                PieceCache cache) noexcept nogil:
        """Encode the pieces of s[start:end] (end: a piece boundary, such as a special token)
        into out, which has room for end - start + CACHE_MAX_IDS more ids. With byte_limit
        >= 0 only the settled pieces: not the last, and ending by byte_limit. Returns where
        encoding stopped, or -1 out of memory."""
        # Blocks of up to BLOCK pieces: first find them all and prefetch their cache slots,
        # then encode them, by when the slots have come in. Two tight loops, each with
        # branches of its own to predict, instead of one that interleaves both. Every piece
        # of up to KEY_BYTES, one byte or sixteen, takes the same path: no branch on length.
        cdef Py_ssize_t ends[BLOCK + 1]
        cdef CacheSlot* slots[BLOCK]
        cdef uint64_t lows[BLOCK]              # the keys (load_key) of pieces of up to
        cdef uint64_t highs[BLOCK]             # KEY_BYTES, kept for the second loop
        cdef Py_ssize_t i = start, j, n, k, count, got, hits = 0
        cdef int32_t* dst                      # out's end, kept here in the loop
        cdef PieceWindow window
        no_window(&window)
        while i < end:
            ends[0] = i
            count = 0
            while count < BLOCK and ends[count] < end:
                j = piece_end(s, ends[count], start, end, pattern_id, &window)
                n = j - ends[count]
                # cache.slot_for written out, keeping the key: a call to it that handed the
                # key back through pointers measured slower in this loop.
                if n <= KEY_BYTES:
                    load_key(s + ends[count], n, s + end, &lows[count], &highs[count])
                    slots[count] = &cache.slots[hash_key(lows[count], highs[count]) & cache.mask]
                    __builtin_prefetch(slots[count])
                elif n <= CACHE_MAX_BYTES:
                    slots[count] = &cache.slots[hash_bytes(s + ends[count], n) & cache.mask]
                    __builtin_prefetch(slots[count])
                else:
                    slots[count] = NULL
                count += 1
                ends[count] = j
            dst = out.data + out.size
            for k in range(count):
                j = ends[k + 1]
                if byte_limit >= 0 and (j > byte_limit or j == end):
                    out.size = dst - out.data
                    cache.hits += hits
                    return i
                n = j - i
                if n <= KEY_BYTES and (got := self.short_hit(lows[k], highs[k], n, dst, slots[k])) >= 0:
                    dst += got
                    hits += 1
                else:
                    out.size = dst - out.data
                    if self.encode_in_slot(s + i, n, s + end, out, cache, slots[k]) != 0:
                        return -1
                    dst = out.data + out.size
                i = j
            out.size = dst - out.data
        cache.hits += hits
        return i

    def encode_text(self, str text, Py_ssize_t limit, int pattern_id, IdBuffer out,
                    PieceCache cache):
        """Append the ids of text's pieces (no special tokens in it) under a native pattern.
        With limit >= 0 only the settled pieces: not the last, and ending by character
        `limit`. Returns the number of characters encoded."""
        cdef Py_ssize_t n, i
        cdef const uint8_t* s = <const uint8_t*>PyUnicode_AsUTF8AndSize(text, &n)
        cdef Py_ssize_t byte_limit = -1 if limit < 0 else byte_offset(text, s, n, limit)
        if out.reserve(n + CACHE_MAX_IDS) != 0:       # a piece of k bytes has at most k ids
            raise MemoryError("no memory for the ids")
        with nogil:
            i = self.encode_span(s, 0, n, byte_limit, pattern_id, out, cache)
        if i < 0:
            raise MemoryError("out of memory while encoding a piece")
        return len(text) if i == n else char_count(text, s, i)

    def encode_whole(self, str text, int pattern_id, IdBuffer out, PieceCache cache,
                     Specials specials):
        """Append the ids of all of text under a native pattern, where each special token
        becomes its id: the leftmost one found, the longest of those starting there. All of
        it, the UTF-8 encoding of text included, runs without the GIL. UnicodeEncodeError
        for a surrogate in text."""
        cdef StrView view = _view(text)
        cdef int failed
        with nogil:
            failed = self.encode_str(view, pattern_id, out, cache, specials)
        if failed == 2:
            raise UnicodeEncodeError("utf-8", text, 0, view.length, "surrogates not allowed")
        if failed:
            raise MemoryError("out of memory while encoding")

    def encode_many(self, texts, int pattern_id, PieceCache cache, Specials specials,
                    ints):
        """encode_whole of each text, as lists of the shared ints (see IdBuffer.to_list),
        in one GIL-free pass over them all: the GIL is held only to make the lists. None
        for a text left to the caller: not a str, or holding a surrogate. The lists are
        not tracked by the garbage collector: the caller tracks them (track_lists) once
        all of a batch's lists are made, so that no collection meanwhile walks them."""
        cdef tuple held = tuple(texts)            # keeps every str alive, whatever texts does
        cdef Py_ssize_t n = len(held), k, start
        cdef vector[StrView] views
        cdef vector[Py_ssize_t] ends              # ids of text k: [ends[k - 1], ends[k])
        cdef vector[char] skipped
        cdef IdBuffer out = IdBuffer()
        cdef int failed = 0
        views.resize(n)
        ends.resize(n)
        skipped.resize(n, 0)
        for k in range(n):
            if PyUnicode_Check(held[k]):
                views[k] = _view(held[k])
            else:
                skipped[k] = 1
        with nogil:
            for k in range(n):
                start = out.size
                if not skipped[k]:
                    failed = self.encode_str(views[k], pattern_id, out, cache, specials)
                    if failed == 2:                 # a surrogate: the caller's slow path
                        out.size = start
                        skipped[k] = 1
                        failed = 0
                    elif failed:
                        break
                ends[k] = out.size
        if failed:
            raise MemoryError("out of memory while encoding")
        result = PyList_New(n)
        for k in range(n):
            if skipped[k]:
                item = None
            else:
                item = PyList_New(ends[k] - (ends[k - 1] if k else 0))
                PyObject_GC_UnTrack(item)
            Py_INCREF(item)
            PyList_SET_ITEM(result, k, item)
        _fill_lists(result, out.data, ends.data(), skipped.data(), ints)
        return result

    cdef int encode_str(self, StrView view, int pattern_id, IdBuffer out, PieceCache cache,
                        Specials specials) noexcept nogil:
        """encode_all of a str's text; 1 out of memory, 2 for a surrogate."""
        cdef Py_ssize_t n
        cdef uint8_t* owned
        cdef size_t capacity
        cdef int failed
        if view.ascii:                            # compact ASCII: the data is UTF-8
            return self.encode_all(<const uint8_t*>view.data, view.length, pattern_id, out,
                                   cache, specials)
        owned = _utf8(view.kind, view.data, view.length, &n, &capacity)
        if owned == NULL:
            return 2 if n == -2 else 1
        failed = self.encode_all(owned, n, pattern_id, out, cache, specials)
        bpe_give_spare(SPARE_TEXT, owned, capacity)
        return failed

    def encode_utf8(self, const uint8_t[::1] data, int pattern_id, IdBuffer out,
                    PieceCache cache, Specials specials):
        """encode_whole for UTF-8 bytes, skipping the str: False (and nothing appended)
        when data is not valid UTF-8 by Python's strict rules."""
        cdef Py_ssize_t n = data.shape[0]
        cdef const uint8_t* s = &data[0] if n else <const uint8_t*>""
        cdef int failed = 0
        with nogil:
            if not valid_utf8(s, n):
                failed = 2
            else:
                failed = self.encode_all(s, n, pattern_id, out, cache, specials)
        if failed == 1:
            raise MemoryError("out of memory while encoding")
        return failed == 0

    cdef int encode_all(self, const uint8_t* s, Py_ssize_t n, int pattern_id, IdBuffer out,
                        PieceCache cache, Specials specials) noexcept nogil:
        """Encode s[:n], special tokens and the pieces between them; -1 out of memory."""
        cdef Py_ssize_t count = specials.count
        cdef Py_ssize_t on_stack[16]               # where each special token was last found
        cdef Py_ssize_t* found = on_stack
        cdef int status
        if out.reserve(n + CACHE_MAX_IDS) != 0:   # a special token of k bytes is one id,
            return 1                              # a piece of k bytes at most k ids
        if count > 16:
            found = <Py_ssize_t*>malloc(count * sizeof(Py_ssize_t))
            if found == NULL:
                return 1
        status = self.encode_all_into(s, n, pattern_id, out, cache, specials, found)
        if found != on_stack:
            free(found)
        return status

    cdef int encode_all_into(self, const uint8_t* s, Py_ssize_t n, int pattern_id, IdBuffer out,
                             PieceCache cache, Specials specials, Py_ssize_t* found) noexcept nogil:
        cdef Py_ssize_t k, j, at, pos = 0
        for j in range(specials.count):
            found[j] = -2
        while True:
            at = specials.next_one(s, n, pos, found, &k)
            if self.encode_span(s, pos, at, -1, pattern_id, out, cache) < 0:
                return 1
            if k < 0:
                return 0
            out.data[out.size] = specials.ids[k]
            out.size += 1
            pos = at + specials.sizes[k]

    def encode_bytes(self, bytes piece):
        """The ids of one piece of bytes, uncached (for tests and for odd callers)."""
        cdef Py_ssize_t n = len(piece)
        cdef vector[int32_t] ids
        if n == 0:
            return []
        ids.resize(n)
        cdef Py_ssize_t m = self.merge_piece(<const uint8_t*>PyBytes_AS_STRING(piece), n, ids.data())
        if m < 0:
            raise MemoryError("out of memory while encoding a piece")
        return [ids[i] for i in range(m)]


cdef inline Py_ssize_t _put_utf8(uint8_t* out, Py_ssize_t at, uint32_t c) noexcept nogil:
    if c < 0x80:
        out[at] = <uint8_t>c
        return at + 1
    if c < 0x800:
        out[at] = <uint8_t>(0xC0 | (c >> 6))
        out[at + 1] = <uint8_t>(0x80 | (c & 0x3F))
        return at + 2
    if c < 0x10000:
        out[at] = <uint8_t>(0xE0 | (c >> 12))
        out[at + 1] = <uint8_t>(0x80 | ((c >> 6) & 0x3F))
        out[at + 2] = <uint8_t>(0x80 | (c & 0x3F))
        return at + 3
    out[at] = <uint8_t>(0xF0 | (c >> 18))
    out[at + 1] = <uint8_t>(0x80 | ((c >> 12) & 0x3F))
    out[at + 2] = <uint8_t>(0x80 | ((c >> 6) & 0x3F))
    out[at + 3] = <uint8_t>(0x80 | (c & 0x3F))
    return at + 4


cdef uint8_t* _utf8(int kind, const void* data, Py_ssize_t length, Py_ssize_t* n,
                   size_t* capacity) noexcept nogil:
    """A str's code points (1, 2 or 4 bytes each) as UTF-8 in the thread's spare text
    buffer (grown as needed; give it back with its capacity), the UTF-8 size in n. NULL
    with n = -2 for a surrogate (not encodable), n = -1 out of memory."""
    cdef size_t needed = length * (2 if kind == 1 else kind + 1) + 1
    cdef uint8_t* out = <uint8_t*>bpe_take_spare(SPARE_TEXT, capacity)
    cdef uint8_t* grown
    cdef Py_ssize_t at = 0
    n[0] = -1
    if capacity[0] < needed:
        grown = <uint8_t*>buffer_grow(out, 0, needed)
        if grown == NULL:
            free(out)
            return NULL
        out = grown
        capacity[0] = needed
    if kind == 1:
        at = _utf8_of(<const uint8_t*>data, length, out)
    elif kind == 2:
        at = _utf8_of(<const uint16_t*>data, length, out)
    else:
        at = _utf8_of(<const uint32_t*>data, length, out)
    if at < 0:
        bpe_give_spare(SPARE_TEXT, out, capacity[0])
        n[0] = -2
        return NULL
    n[0] = at
    return out


ctypedef fused code_unit:
    uint8_t
    uint16_t
    uint32_t


cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #endif
    /* If the 16 code units at src are all ASCII, write them to dst as 16 bytes and
       return 1; else 0 (dst untouched). One function per str width (1, 2, 4 bytes); the
       scalar version serves where SSE2 is missing. */
    template <typename T>
    static inline int bpe_ascii16_scalar(const T* src, uint8_t* dst) {
        T bits = 0;
        for (int k = 0; k < 16; k++) bits |= src[k];
        if (bits >= 0x80) return 0;
        for (int k = 0; k < 16; k++) dst[k] = (uint8_t)src[k];
        return 1;
    }
    static inline int bpe_ascii16_u8(const uint8_t* src, uint8_t* dst) {
        uint64_t a, b;
        memcpy(&a, src, 8); memcpy(&b, src + 8, 8);
        if ((a | b) & 0x8080808080808080ULL) return 0;
        memcpy(dst, src, 16);
        return 1;
    }
    static inline int bpe_ascii16_u16(const uint16_t* src, uint8_t* dst) {
    #if defined(__SSE2__)
        __m128i a = _mm_loadu_si128((const __m128i*)src);
        __m128i b = _mm_loadu_si128((const __m128i*)(src + 8));
        __m128i high = _mm_and_si128(_mm_or_si128(a, b), _mm_set1_epi16((short)0xFF80));
        if (_mm_movemask_epi8(_mm_cmpeq_epi16(high, _mm_setzero_si128())) != 0xFFFF) return 0;
        _mm_storeu_si128((__m128i*)dst, _mm_packus_epi16(a, b));
        return 1;
    #else
        return bpe_ascii16_scalar(src, dst);
    #endif
    }
    static inline int bpe_ascii16_u32(const uint32_t* src, uint8_t* dst) {
    #if defined(__SSE2__)
        __m128i a = _mm_loadu_si128((const __m128i*)src);
        __m128i b = _mm_loadu_si128((const __m128i*)(src + 4));
        __m128i c = _mm_loadu_si128((const __m128i*)(src + 8));
        __m128i d = _mm_loadu_si128((const __m128i*)(src + 12));
        __m128i all = _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d));
        __m128i high = _mm_and_si128(all, _mm_set1_epi32((int)0xFFFFFF80));
        if (_mm_movemask_epi8(_mm_cmpeq_epi32(high, _mm_setzero_si128())) != 0xFFFF) return 0;
        /* every unit is below 0x80: the saturating packs keep each value */
        _mm_storeu_si128((__m128i*)dst, _mm_packus_epi16(_mm_packs_epi32(a, b), _mm_packs_epi32(c, d)));
        return 1;
    #else
        return bpe_ascii16_scalar(src, dst);
    #endif
    }
    """
    bint bpe_ascii16_u8(const uint8_t* src, uint8_t* dst) nogil
    bint bpe_ascii16_u16(const uint16_t* src, uint8_t* dst) nogil
    bint bpe_ascii16_u32(const uint32_t* src, uint8_t* dst) nogil


cdef inline Py_ssize_t _utf8_of(const code_unit* data, Py_ssize_t length, uint8_t* out) noexcept nogil:
    """Write the code points as UTF-8 to out; the bytes written, or -1 at a surrogate.
    Sixteen ASCII characters at a time where they come in such blocks; a block that holds
    another character goes one character at a time."""
    cdef Py_ssize_t i = 0, at = 0, stop
    cdef uint32_t c
    cdef bint ascii
    while i < length:
        if i + 16 <= length:
            if code_unit is uint8_t:
                ascii = bpe_ascii16_u8(data + i, out + at)
            elif code_unit is uint16_t:
                ascii = bpe_ascii16_u16(data + i, out + at)
            else:
                ascii = bpe_ascii16_u32(data + i, out + at)
            if ascii:
                i += 16
                at += 16
                continue
        stop = min(i + 16, length)
        while i < stop:
            c = data[i]
            i += 1
            if c < 0x80:
                out[at] = <uint8_t>c
                at += 1
            elif 0xD800 <= c < 0xE000:
                return -1
            else:
                at = _put_utf8(out, at, c)
    return at


cdef inline Py_ssize_t _find(const uint8_t* s, Py_ssize_t n, Py_ssize_t start,
                             const uint8_t* needle, Py_ssize_t size) noexcept nogil:
    """The first position >= start of needle in s[:n], or -1."""
    cdef const uint8_t* hit = <const uint8_t*>memmem(s + start, n - start, needle, size)
    return -1 if hit == NULL else hit - s


cdef inline void _sift_down(uint64_t* heap, Py_ssize_t n, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t child
    cdef uint64_t item = heap[i]
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= item:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = item


cdef inline Py_ssize_t _push(uint64_t* heap, Py_ssize_t n, uint64_t item) noexcept nogil:
    """Add item to the min-heap heap[:n]; returns the new size."""
    cdef Py_ssize_t i = n, parent
    while i > 0:
        parent = (i - 1) >> 1
        if heap[parent] <= item:
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = item
    return n + 1


ctypedef fused id_type:
    uint16_t
    uint32_t
    int32_t
    int64_t


cdef extern from *:
    """
    #include <stdlib.h>
    /* The value of an int that fits one digit (every token id does), read in place; 0 for
       any other object, which takes the general path. */
    static inline int bpe_small_int(PyObject* o, long long* value) {
        if (!PyLong_CheckExact(o)) return 0;
    #if PY_VERSION_HEX >= 0x030C0000
        if (!PyUnstable_Long_IsCompact((PyLongObject*)o)) return 0;
        *value = (long long)PyUnstable_Long_CompactValue((PyLongObject*)o);
    #else
        Py_ssize_t size = Py_SIZE(o);
        if (size == 0) *value = 0;
        else if (size == 1) *value = (long long)((PyLongObject*)o)->ob_digit[0];
        else return 0;
    #endif
        return 1;
    }

    """
    bint bpe_small_int(PyObject* o, long long* value)


cdef struct TokenSpan:
    uint32_t start          # in the arena
    uint32_t length         # ABSENT: no token has this id

cdef enum:
    ABSENT = 0xFFFFFFFF
    COPY = 16               # tokens up to this long are copied as one fixed-size block


cdef class TokenArena:
    """Every token's bytes back to back; decode gathers them. A token of up to COPY bytes
    (most) is also in a block of its own at COPY * id, copied whole: one load that needs
    only the id, where the arena needs the token's place first. Copies of COPY bytes need
    that much slack after the arena and after the output."""
    cdef uint8_t* arena
    cdef TokenSpan* spans
    cdef uint8_t* blocks                 # [COPY * id]: the bytes of a token of up to COPY
    cdef uint8_t* short_length           # bytes, zero-padded, and its length; 0: longer,
    cdef readonly Py_ssize_t n_vocab     # or no token (see spans)

    def __cinit__(self, list tokens):
        """tokens[i]: the bytes of id i, or None where no token has that id."""
        cdef Py_ssize_t i, total = 0
        self.n_vocab = len(tokens)
        for token in tokens:
            if token is not None:
                total += len(<bytes>token)
        if total >= ABSENT:
            raise ValueError("the vocabulary holds 4 GB of token bytes or more")
        self.arena = <uint8_t*>calloc(total + COPY, 1)
        self.spans = <TokenSpan*>malloc(max(self.n_vocab, 1) * sizeof(TokenSpan))
        self.blocks = <uint8_t*>table_alloc(max(self.n_vocab, 1) * COPY, 0)
        self.short_length = <uint8_t*>calloc(max(self.n_vocab, 1), 1)
        if (self.arena == NULL or self.spans == NULL or self.blocks == NULL
                or self.short_length == NULL):
            raise MemoryError("no memory for the decode table")
        total = 0
        for i in range(self.n_vocab):
            token = tokens[i]
            if token is None:
                self.spans[i].start, self.spans[i].length = 0, ABSENT
                continue
            self.spans[i].start, self.spans[i].length = total, len(<bytes>token)
            memcpy(self.arena + total, PyBytes_AS_STRING(token), len(<bytes>token))
            total += len(<bytes>token)
            if 0 < len(<bytes>token) <= COPY:
                memcpy(self.blocks + i * COPY, PyBytes_AS_STRING(token), len(<bytes>token))
                self.short_length[i] = len(<bytes>token)

    def __dealloc__(self):
        free(self.arena)
        free(self.spans)
        free(self.blocks)
        free(self.short_length)

    def decode(self, const id_type[::1] ids, bint as_text=False, str errors="replace"):
        """The bytes of the ids (uint16, uint32, int32 or int64), concatenated (as_text:
        decoded as UTF-8 with `errors`); ValueError names the first unknown id. Sized
        first, then gathered, both without the GIL."""
        cdef Py_ssize_t n = ids.shape[0], bad = -1
        cdef const id_type* at = &ids[0] if n else NULL
        cdef Output out = Output()
        with nogil:
            bad = _gather(self, at, n, out)
        if bad >= 0:
            self.fail(out, ids[bad] if bad < n else None, bad)
        return out.result(as_text, errors)

    def decode_list(self, list ids, bint as_text=False, str errors="replace"):
        """decode for a list of Python ints, read in place without a NumPy copy: the id of
        one of encode's pinned ints from its place in the block, without touching it; of
        any other int of one digit (as every id is), from its digit."""
        cdef Py_ssize_t i, n = len(ids)
        cdef Output out = Output()
        cdef long long t
        cdef int overflow
        cdef PyObject* item
        cdef TokenSpan span
        cdef uint8_t* dst
        cdef uint8_t* stop                        # past it, dst has no room for a token
        cdef size_t block = <size_t>_int_block, block_bytes = <size_t>_block_ints << BPE_INT_SHIFT
        cdef uint8_t* copied
        dst = out.room(out.data, 4 * n, &stop)   # about right for English; grows if not
        if dst == NULL:
            raise MemoryError("no memory for the decoded text")
        for i in range(n):
            item = <PyObject*>PyList_GET_ITEM(ids, i)
            if <size_t>item - block < block_bytes:   # a pinned int: its id from its place
                t = <long long>((<size_t>item - block) >> BPE_INT_SHIFT)
            elif not bpe_small_int(item, &t):
                if not PyLong_Check(<object>item):
                    raise TypeError(f"ids must be ints; item {i} is {type(<object>item).__name__}")
                t = PyLong_AsLongLongAndOverflow(<object>item, &overflow)
                if overflow:
                    t = -1
            copied = _copy_short(self, <uint64_t>t, dst, stop)
            if copied != NULL:
                dst = copied
                continue
            if t < 0 or t >= self.n_vocab or self.spans[t].length == ABSENT:
                out.failed = 1
                self.fail(out, <object>item, i)
            span = self.spans[t]
            if dst + span.length > stop:          # (a local dst: no store-to-load chain)
                dst = out.room(dst, span.length, &stop)
                if dst == NULL:
                    self.fail(out, <object>item, i)
            dst = _copy_token(self, span, dst)
        out.size = dst - out.data
        return out.result(as_text, errors)

    cdef fail(self, Output out, token, Py_ssize_t position):
        if out.failed == 2:
            raise MemoryError("no memory for the decoded text")
        raise ValueError(f"token id {token} at position {position} is not in the vocabulary "
                         f"(ids 0..{self.n_vocab - 1})")


@cython.final
cdef class Output:
    """A growing byte buffer for decode, with COPY bytes of slack at its end; it starts
    from the thread's spare buffer and becomes the spare when done."""
    cdef uint8_t* data
    cdef size_t size, capacity
    cdef int failed         # 1: unknown id, 2: out of memory

    def __cinit__(self):
        self.data = <uint8_t*>bpe_take_spare(SPARE_DECODE, &self.capacity)

    def __dealloc__(self):
        if self.data != NULL:
            bpe_give_spare(SPARE_DECODE, self.data, self.capacity)

    cdef int reserve(self, size_t extra) noexcept nogil:
        """Room for extra more bytes (and the slack); -1 (failed = 2) when out of memory."""
        cdef size_t capacity
        cdef uint8_t* grown
        if self.size + extra + COPY <= self.capacity:
            return 0
        capacity = max(2 * self.capacity, self.size + extra + COPY)
        grown = <uint8_t*>buffer_grow(self.data, self.size, capacity)
        if grown == NULL:
            self.failed = 2
            return -1
        self.data = grown
        self.capacity = capacity
        return 0

    cdef uint8_t* room(self, uint8_t* dst, size_t extra, uint8_t** stop) noexcept nogil:
        """For a writer at dst (the end of what is written): room for extra more bytes.
        Where to write now (the buffer may have moved), with stop set to where the room
        for a whole COPY block ends; NULL (failed = 2) when out of memory."""
        self.size = dst - self.data
        if self.reserve(extra) != 0:
            return NULL
        stop[0] = self.data + self.capacity - COPY
        return self.data + self.size

    cdef result(self, bint as_text, str errors):
        """The bytes gathered, or the str they decode to."""
        if as_text:
            text = utf8_to_str(self.data, self.size)
            if text is None:           # not UTF-8: the error handler decides
                text = PyUnicode_DecodeUTF8(<char*>self.data, self.size, errors.encode("ascii"))
            return text
        return PyBytes_FromStringAndSize(<char*>self.data, self.size)


cdef Py_ssize_t _gather(TokenArena arena, const id_type* ids, Py_ssize_t n, Output out) noexcept nogil:
    """Append the ids' bytes to out in one pass, growing it as needed: -1, or the position
    of the first unknown id (or of the end, out.failed = 2, when memory ran out)."""
    cdef Py_ssize_t i
    cdef TokenSpan span
    cdef uint8_t* dst
    cdef uint8_t* stop                        # past it, dst has no room for a token
    dst = out.room(out.data, 4 * n, &stop)    # about right for English; grows if not
    if dst == NULL:
        return n
    cdef uint64_t t
    cdef uint8_t* copied
    for i in range(n):
        t = <uint64_t>ids[i]
        copied = _copy_short(arena, t, dst, stop)
        if copied != NULL:                    # (a local dst: no store-to-load chain)
            dst = copied
            continue
        if t >= <uint64_t>arena.n_vocab or arena.spans[t].length == ABSENT:
            out.size = dst - out.data
            out.failed = 1
            return i
        span = arena.spans[t]
        if dst + span.length > stop:
            dst = out.room(dst, span.length + 4 * (n - i), &stop)
            if dst == NULL:
                return n
        dst = _copy_token(arena, span, dst)
    out.size = dst - out.data
    return -1


cdef inline uint8_t* _copy_short(TokenArena arena, uint64_t t, uint8_t* dst,
                                 const uint8_t* stop) noexcept nogil:
    """The common case of the gathers: id t is a token of up to COPY bytes, with room for
    it before stop. Its block copied to dst, and past the copy; else NULL (the caller's
    general path)."""
    cdef uint8_t length
    if t < <uint64_t>arena.n_vocab:
        length = arena.short_length[t]
        if length and dst + length <= stop:
            memcpy(dst, arena.blocks + t * COPY, COPY)    # fixed size: no call
            return dst + length
    return NULL


cdef inline uint8_t* _copy_token(TokenArena arena, TokenSpan span, uint8_t* dst) noexcept nogil:
    """Copy a token's bytes to dst (with COPY bytes of slack after it); past the copy."""
    if span.length <= COPY:
        memcpy(dst, arena.arena + span.start, COPY)    # fixed size: no call
    else:
        memcpy(dst, arena.arena + span.start, span.length)
    return dst + span.length
