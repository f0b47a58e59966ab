# cython: language_level=3
"""Piece counting for training: pieces straight out of the native pre-tokenizer into a
hash table keyed by their bytes, then out as a WordTable's arrays.

No Python string is made per piece: the counter reads the UTF-8 of each settled stretch of
text and walks its pieces with `piece_end`. The regex fallback (custom patterns) hands
lists of str pieces to `add` instead.

The table is open addressing over slots that hold a piece's key and count: a piece of up
to KEY_BYTES bytes (almost every piece) is its own key, two words of its bytes, so counting
it again reads one slot and nothing else (a slot per piece seen is the one cache miss of a
count). A longer piece is keyed by its hash and compared with its bytes in `text`.

Threads counting one input share a SharedCounter: each counts into a PieceCounter of its
own, of a bounded size, which hands its pieces over whenever it fills (and once at the
end). The SharedCounter is SHARDS PieceCounters, a piece's shard picked by its hash, each
behind a lock of its own, so threads handing over at once seldom wait for each other.
"""
import numpy as np

cimport numpy as cnp
from cpython.pythread cimport (NOWAIT_LOCK, WAIT_LOCK, PyThread_acquire_lock,
                               PyThread_allocate_lock, PyThread_free_lock,
                               PyThread_release_lock, PyThread_type_lock)
from cpython.ref cimport PyObject
from cpython.unicode cimport PyUnicode_Check
from libc.stdlib cimport free, malloc
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memset
from libcpp.vector cimport vector

from bpe._hashing cimport KEY_BYTES, hash_bytes, hash_key, load_key
from bpe._memory cimport zeroed_alloc, zeroed_free
from bpe._utf8 cimport valid_utf8
from bpe._pretokenize cimport (PieceWindow, byte_offset, char_count, check_pattern_id,
                               no_window, piece_end)

cnp.import_array()

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL

cdef extern from "bpe_vectors.h" nogil:
    int bpe_append_piece(vector[uint8_t]& text, vector[int64_t]& starts, const uint8_t* s,
                         Py_ssize_t n) nogil

cdef extern from *:
    void __builtin_prefetch(const void* address) nogil

cdef enum:
    EMPTY = 0                   # CountSlot.kind of an empty slot (zeroed memory is empty)
    LONG = KEY_BYTES + 2        # CountSlot.kind of a piece longer than KEY_BYTES
    PENDING = 16                # pieces whose slots are prefetched ahead (count_span)
    INITIAL_SLOTS = 1 << 12
    SHARD_BITS = 4              # a SharedCounter's shards: the top bits of a piece's hash
    SHARDS = 1 << SHARD_BITS
    PREFIX_BYTES = 4            # arrays() orders the pieces by this many first bytes
    RADIX = 1 << 16             # by_prefix's digits: 16 bits


cdef struct CountSlot:
    uint64_t low        # n <= KEY_BYTES: the piece's bytes, as load_key gives them; LONG:
    uint64_t high       #   low is its hash_bytes (and high 0)
    int64_t count
    int32_t kind        # EMPTY, n + 1 for a piece of n <= KEY_BYTES bytes, or LONG
    int32_t k           # its index: pieces are numbered in the order first counted


cdef struct Pending:
    # A piece on its way into the table, with its key (key_of).
    const uint8_t* s
    Py_ssize_t n
    uint64_t low
    uint64_t high
    uint64_t h          # the slot to start probing at is h & mask
    int32_t kind        # CountSlot.kind


cdef inline void key_of(Pending* piece, const uint8_t* s, Py_ssize_t n,
                        const uint8_t* limit) noexcept nogil:
    """A piece's key and hash (load_key may read up to limit)."""
    piece.s, piece.n = s, n
    if n <= KEY_BYTES:
        load_key(s, n, limit, &piece.low, &piece.high)
        piece.h = hash_key(piece.low, piece.high)
        piece.kind = <int32_t>n + 1
    else:
        piece.h = piece.low = hash_bytes(s, n)
        piece.high = 0
        piece.kind = LONG


cdef inline uint64_t slot_hash(const CountSlot* slot) noexcept nogil:
    """The hash a slot's piece was placed by (key_of's h)."""
    return slot.low if slot.kind == LONG else hash_key(slot.low, slot.high)


cdef class SharedCounter


cdef class PieceCounter:
    """{piece bytes: count}, in C."""
    cdef vector[uint8_t] text            # every distinct piece, back to back
    cdef vector[int64_t] starts          # piece k is text[starts[k]:starts[k + 1]]
    cdef CountSlot* slots                # zeroed_alloc's (mapped, unmapped when freed)
    cdef uint64_t mask                   # the number of slots less one
    cdef SharedCounter spill             # where its pieces go when full (None: it grows)
    cdef uint64_t spill_slots            # full: past three quarters of this many slots
    cdef int first_shard                 # the shard it hands over to first

    def __cinit__(self):
        self.slots = <CountSlot*>zeroed_alloc(INITIAL_SLOTS * sizeof(CountSlot))
        if self.slots == NULL:
            raise MemoryError("no memory for a piece counter")
        self.mask = INITIAL_SLOTS - 1
        self.starts.push_back(0)

    def __dealloc__(self):
        zeroed_free(self.slots, (self.mask + 1) * sizeof(CountSlot))

    def __len__(self):
        return self.starts.size() - 1

    cdef int grow(self) noexcept nogil:
        """Double the slots; -1 when out of memory (the table stays as it was)."""
        cdef uint64_t k, i, h, capacity = 2 * (self.mask + 1)
        cdef CountSlot* old = self.slots
        cdef CountSlot* slots = <CountSlot*>zeroed_alloc(capacity * sizeof(CountSlot))
        if slots == NULL:
            return -1
        for k in range(self.mask + 1):
            if old[k].kind == EMPTY:
                continue
            h = old[k].low if old[k].kind == LONG else hash_key(old[k].low, old[k].high)
            i = h & (capacity - 1)
            while slots[i].kind != EMPTY:
                i = (i + 1) & (capacity - 1)
            slots[i] = old[k]
        zeroed_free(old, (self.mask + 1) * sizeof(CountSlot))
        self.slots = slots
        self.mask = capacity - 1
        return 0

    cdef inline int add_piece(self, const uint8_t* s, Py_ssize_t n, const uint8_t* limit,
                              int64_t count) noexcept nogil:
        """Count a piece (s + n <= limit, the end of the buffer it is in: load_key may read
        that far); -1 when out of memory (it may then be counted or not)."""
        cdef Pending piece
        key_of(&piece, s, n, limit)
        return self.add_keyed(&piece, count)

    cdef inline int add_keyed(self, const Pending* piece, int64_t count) noexcept nogil:
        """add_piece of a piece whose key is found (key_of)."""
        cdef uint64_t i = piece.h & self.mask
        cdef int64_t k
        cdef CountSlot* slot
        while True:
            slot = &self.slots[i]
            if slot.kind == EMPTY:
                break
            if slot.kind == piece.kind and slot.low == piece.low and slot.high == piece.high:
                k = slot.k
                if piece.kind != LONG or (
                        self.starts[k + 1] - self.starts[k] == piece.n
                        and memcmp(&self.text[self.starts[k]], piece.s, piece.n) == 0):
                    slot.count += count
                    return 0
            i = (i + 1) & self.mask
        k = <int64_t>self.starts.size() - 1
        if bpe_append_piece(self.text, self.starts, piece.s, piece.n) != 0:
            return -1
        slot.low, slot.high, slot.count = piece.low, piece.high, count
        slot.kind, slot.k = piece.kind, <int32_t>k
        if 4 * (k + 1) > 3 * (<int64_t>self.mask + 1):     # past three quarters full
            if self.spill is not None and self.mask + 1 >= self.spill_slots:
                return self.spill.take(self)
            return self.grow()
        return 0

    cdef int add_slots(self, PieceCounter other, const int32_t* which,
                       Py_ssize_t n) noexcept nogil:
        """Add the pieces of other's slots which[0:n], with their counts; -1 when out of
        memory. Pieces wait in a ring while their slots here are prefetched."""
        cdef Pending ring[PENDING]
        cdef int64_t counts[PENDING]
        cdef Py_ssize_t j
        cdef int64_t k
        cdef const CountSlot* slot
        cdef Pending* piece
        for j in range(n + PENDING):
            if j >= PENDING and self.add_keyed(&ring[j % PENDING], counts[j % PENDING]) != 0:
                return -1
            if j < n:
                slot = &other.slots[which[j]]
                piece = &ring[j % PENDING]
                k = slot.k
                piece.s = other.text.data() + other.starts[k]
                piece.n = other.starts[k + 1] - other.starts[k]
                piece.low, piece.high, piece.kind = slot.low, slot.high, slot.kind
                piece.h = slot_hash(slot)
                counts[j % PENDING] = slot.count
                __builtin_prefetch(&self.slots[piece.h & self.mask])
        return 0

    def keep_all(self):
        """Hand nothing over any more (a counter made by SharedCounter.counter): grow to
        hold all it counts from now on."""
        self.spill = None

    cdef void clear(self) noexcept nogil:
        """Empty, keeping its memory."""
        memset(self.slots, 0, (self.mask + 1) * sizeof(CountSlot))
        self.text.clear()
        self.starts.resize(1)

    cdef Py_ssize_t count_span(self, const uint8_t* s, Py_ssize_t i, Py_ssize_t stop,
                               const uint8_t* end, Py_ssize_t settled_by, int pattern_id,
                               PieceWindow* window) noexcept nogil:
        """Count the pieces of s[i:stop] (the buffer ends at end); with settled_by >= 0
        only the settled ones: not the last, and ending by byte settled_by. Returns where it
        stopped, or -1 when out of memory.

        Pieces wait in a ring of PENDING while the slots of their keys are prefetched: a
        slot is the one cache miss of a count, and the pre-tokenizer finds the next pieces
        while it arrives."""
        cdef Pending ring[PENDING]
        cdef Py_ssize_t j, head = 0, waiting = 0
        while i < stop:
            j = piece_end(s, i, stop, pattern_id, window)
            if settled_by >= 0 and (j > settled_by or j == stop):
                break
            if waiting == PENDING:
                if self.add_keyed(&ring[head], 1) != 0:
                    return -1
                head = (head + 1) % PENDING
                waiting -= 1
            key_of(&ring[(head + waiting) % PENDING], s + i, j - i, end)
            __builtin_prefetch(&self.slots[ring[(head + waiting) % PENDING].h & self.mask])
            waiting += 1
            i = j
        while waiting:
            if self.add_keyed(&ring[head], 1) != 0:
                return -1
            head = (head + 1) % PENDING
            waiting -= 1
        return i

    cdef vector[int64_t] counts(self) except *:
        """Each piece's count, by index."""
        cdef vector[int64_t] counts
        counts.resize(self.starts.size() - 1)
        cdef size_t i
        for i in range(self.mask + 1):
            if self.slots[i].kind != EMPTY:
                counts[self.slots[i].k] = self.slots[i].count
        return counts

    def count_text(self, str text, Py_ssize_t limit, int pattern_id):
        """Count the pieces of text (no special tokens in it). With limit >= 0 count only the
        settled ones: not the last, and ending by character `limit`. Returns the number of
        characters counted."""
        check_pattern_id(pattern_id)
        cdef Py_ssize_t n, i = 0, byte_limit
        cdef const uint8_t* s = <const uint8_t*>PyUnicode_AsUTF8AndSize(text, &n)
        cdef int failed = 0
        cdef PieceWindow window
        no_window(&window)
        byte_limit = n if limit < 0 else byte_offset(text, s, n, limit)
        with nogil:
            i = self.count_span(s, 0, n, s + n, byte_limit if limit >= 0 else -1,
                                pattern_id, &window)
            if i < 0:
                failed = 1
        if failed:
            raise MemoryError("out of memory while counting pieces")
        return len(text) if i == n else char_count(text, s, i)

    def count_utf8(self, const uint8_t[::1] data, list stretches, int pattern_id):
        """Count the pieces of UTF-8 text, of each stretch data[a:b] for (a, b) in stretches
        (the text between special tokens, each cut as a text of its own), all without the
        GIL: no str is made. False, and nothing counted, where data is not valid UTF-8 by
        Python's strict rules (the caller decodes it then, for its error or U+FFFD)."""
        check_pattern_id(pattern_id)
        cdef vector[Py_ssize_t] cuts
        cdef Py_ssize_t n = data.shape[0], k, i, stop
        cdef const uint8_t* s = &data[0] if n else <const uint8_t*>""
        cdef int failed = 0
        cdef PieceWindow window
        for a, b in stretches:
            if not 0 <= a <= b <= n:
                raise ValueError(f"stretch {a}:{b} is not inside the {n} bytes of data")
            cuts.push_back(a)
            cuts.push_back(b)
        with nogil:
            if not valid_utf8(s, n):
                failed = 2
            k = 0
            while failed == 0 and k < <Py_ssize_t>cuts.size():
                i, stop = cuts[k], cuts[k + 1]
                k += 2
                no_window(&window)
                if self.count_span(s, i, stop, s + n, -1, pattern_id, &window) < 0:
                    failed = 1
        if failed == 1:
            raise MemoryError("out of memory while counting pieces")
        return failed == 0

    def add(self, list pieces):
        """Count a list of str pieces (the regex fallback's output)."""
        cdef Py_ssize_t n
        cdef const uint8_t* s
        for piece in pieces:
            if not PyUnicode_Check(piece):
                raise TypeError(f"pieces must be str, got {type(piece).__name__}")
            s = <const uint8_t*>PyUnicode_AsUTF8AndSize(piece, &n)
            if n and self.add_piece(s, n, s + n, 1) != 0:
                raise MemoryError("out of memory while counting pieces")

    def add_table(self, const uint8_t[::1] text, const int64_t[::1] offsets,
                  const int64_t[::1] counts):
        """Add a word table's counts: word k is text[offsets[k]:offsets[k + 1]]."""
        cdef Py_ssize_t k, n_words = counts.shape[0]
        if offsets.shape[0] != n_words + 1:
            raise ValueError(f"offsets has {offsets.shape[0]} entries, expected n_words + 1 = {n_words + 1}")
        for k in range(n_words):
            if offsets[k] < 0 or offsets[k] > offsets[k + 1] or offsets[k + 1] > text.shape[0]:
                raise ValueError(f"offsets[{k}:{k + 2}] = {offsets[k]}, {offsets[k + 1]} is not a "
                                 f"range inside the {text.shape[0]} bytes of text")
        if n_words == 0:
            return
        cdef int failed = 0
        cdef const uint8_t* end = &text[0] + text.shape[0]
        with nogil:
            for k in range(n_words):
                if self.add_piece(&text[0] + offsets[k], offsets[k + 1] - offsets[k], end,
                                  counts[k]) != 0:
                    failed = 1
                    break
        if failed:
            raise MemoryError("out of memory while adding counts")

    def byte_arrays(self):
        """(text uint8, offsets int64, counts int64): the counted pieces, compactly (what a
        worker sends back)."""
        cdef size_t n_words = self.starts.size() - 1, total = self.text.size()
        cdef vector[int64_t] by_index = self.counts()
        text = np.empty(total, dtype=np.uint8)
        offsets = np.asarray(<int64_t[:n_words + 1]>self.starts.data()).copy()
        counts = (np.asarray(<int64_t[:n_words]>by_index.data()).copy() if n_words
                  else np.zeros(0, np.int64))
        cdef uint8_t[::1] view = text
        if total:
            memcpy(&view[0], self.text.data(), total)
        return text, offsets, counts

    def arrays(self):
        """(symbols int32, offsets int64, counts int64): the WordTable of the counted pieces,
        in the order of their first PREFIX_BYTES bytes (by_prefix)."""
        cdef size_t n_words = self.starts.size() - 1, total = self.text.size()
        cdef vector[int64_t] by_index = self.counts()
        cdef vector[int32_t] order = self.by_prefix()
        symbols = np.empty(total, dtype=np.int32)
        offsets = np.empty(n_words + 1, dtype=np.int64)
        counts = np.empty(n_words, dtype=np.int64)
        cdef int32_t[::1] sym = symbols
        cdef int64_t[::1] off = offsets, cnt = counts
        cdef size_t k, w, i, at = 0
        with nogil:
            for k in range(n_words):
                if k + 2 * PENDING < n_words:     # the pieces are visited out of order
                    __builtin_prefetch(&self.starts[order[k + 2 * PENDING]])
                    __builtin_prefetch(&by_index[order[k + 2 * PENDING]])
                if k + PENDING < n_words:
                    __builtin_prefetch(&self.text[self.starts[order[k + PENDING]]])
                w = order[k]
                off[k] = at
                cnt[k] = by_index[w]
                for i in range(<size_t>self.starts[w], <size_t>self.starts[w + 1]):
                    sym[at] = self.text[i]
                    at += 1
            off[n_words] = at
        return symbols, offsets, counts

    cdef vector[int32_t] by_prefix(self) except *:
        """The pieces' indices in the order of their first PREFIX_BYTES bytes (fewer: as if
        zeros followed), by a two-pass radix sort; pieces alike there keep their order.
        The merge loop visits the words that hold a pair in table order, and words sharing
        a prefix share that prefix's pairs, so a merge then reads nearby memory: training
        to 10,000 tokens spends about a tenth less in the merge loop than with the pieces
        in the order first counted."""
        cdef size_t n_words = self.starts.size() - 1, k, i, n
        cdef vector[uint32_t] keys
        cdef vector[int32_t] order, first
        cdef vector[size_t] at
        keys.resize(n_words)
        order.resize(n_words)
        first.resize(n_words)
        at.resize(RADIX)
        cdef uint32_t key
        cdef int shift
        with nogil:
            for k in range(n_words):
                n = <size_t>(self.starts[k + 1] - self.starts[k])
                key = 0
                for i in range(PREFIX_BYTES):
                    key = key << 8 | (self.text[self.starts[k] + i] if i < n else 0)
                keys[k] = key
                first[k] = <int32_t>k
            for shift in range(0, 32, 16):     # the low half, then the high half (stable)
                memset(at.data(), 0, RADIX * sizeof(size_t))
                for k in range(n_words):
                    at[(keys[first[k]] >> shift) & (RADIX - 1)] += 1
                n = 0
                for k in range(RADIX):
                    n, at[k] = n + at[k], n
                for k in range(n_words):
                    i = (keys[first[k]] >> shift) & (RADIX - 1)
                    order[at[i]] = first[k]
                    at[i] += 1
                first.swap(order)
        return first


cdef class SharedCounter:
    """{piece bytes: count} that threads add to at once: SHARDS PieceCounters, a piece's
    shard picked by the top bits of its hash, each behind a lock of its own. A thread
    counts into a counter of its own (`counter()`), which hands its pieces over whenever
    it fills; a thread that finds a shard taken goes on to the next and comes back."""
    cdef list shards                     # the PieceCounters, kept alive here
    cdef PyObject* tables[SHARDS]        # the same, for use without the GIL
    cdef PyThread_type_lock locks[SHARDS]
    cdef int handed                      # counters made so far (their first shards differ)

    def __cinit__(self):
        cdef int s
        self.shards = []
        for s in range(SHARDS):
            self.locks[s] = NULL
        for s in range(SHARDS):
            shard = PieceCounter()
            self.shards.append(shard)
            self.tables[s] = <PyObject*>shard
            self.locks[s] = PyThread_allocate_lock()
            if self.locks[s] == NULL:
                raise MemoryError("no memory for a shared counter's locks")

    def __dealloc__(self):
        cdef int s
        for s in range(SHARDS):
            if self.locks[s] != NULL:
                PyThread_free_lock(self.locks[s])

    def __len__(self):
        return sum(len(shard) for shard in self.shards)

    def counter(self, Py_ssize_t max_slots):
        """A PieceCounter for one thread: it grows up to max_slots slots (a power of two, at
        least INITIAL_SLOTS), and when that is three quarters full it hands its pieces over
        to this counter and starts again empty."""
        if max_slots < INITIAL_SLOTS or max_slots & (max_slots - 1):
            raise ValueError(f"max_slots={max_slots}; expected a power of two of at least "
                             f"{INITIAL_SLOTS}")
        cdef PieceCounter counter = PieceCounter()
        counter.spill, counter.spill_slots = self, <uint64_t>max_slots
        counter.first_shard = self.handed % SHARDS
        self.handed += 1
        return counter

    def add_counter(self, PieceCounter counter):
        """Take every piece of counter, which is left empty (its memory kept). Releases the
        GIL; threads may add counters at once (not the same counter)."""
        cdef int failed
        with nogil:
            failed = self.take(counter)
        if failed:
            raise MemoryError("out of memory while adding counts")

    cdef int take(self, PieceCounter counter) noexcept nogil:
        """add_counter without the GIL: counter's slots sorted by shard, each shard's added
        under its lock, taking the shards free first; then counter cleared. -1 when out of
        memory (what was added stays added, and counter is left as it was)."""
        cdef Py_ssize_t n = <Py_ssize_t>counter.starts.size() - 1
        cdef Py_ssize_t at[SHARDS + 1]          # shard s's slots are order[at[s]:at[s + 1]]
        cdef Py_ssize_t fill[SHARDS]
        cdef uint64_t i
        cdef int s, r, done = 0, added
        cdef int32_t* order = <int32_t*>malloc((n if n else 1) * sizeof(int32_t))
        if order == NULL:
            return -1
        memset(at, 0, sizeof(at))
        for i in range(counter.mask + 1):
            if counter.slots[i].kind != EMPTY:
                at[1 + (slot_hash(&counter.slots[i]) >> (64 - SHARD_BITS))] += 1
        for s in range(SHARDS):
            at[s + 1] += at[s]
            fill[s] = at[s]
        for i in range(counter.mask + 1):
            if counter.slots[i].kind != EMPTY:
                s = slot_hash(&counter.slots[i]) >> (64 - SHARD_BITS)
                order[fill[s]] = <int32_t>i
                fill[s] += 1
        while done != (1 << SHARDS) - 1:
            added = 0
            for r in range(SHARDS):
                s = (counter.first_shard + r) % SHARDS
                if done >> s & 1 or not PyThread_acquire_lock(self.locks[s], NOWAIT_LOCK):
                    continue
                if self.add_shard(s, counter, order + at[s], at[s + 1] - at[s]) != 0:
                    free(order)
                    return -1
                done |= 1 << s
                added = 1
            if not added:       # every shard left is taken: wait for the first of them
                s = counter.first_shard
                while done >> s & 1:
                    s = (s + 1) % SHARDS
                PyThread_acquire_lock(self.locks[s], WAIT_LOCK)
                if self.add_shard(s, counter, order + at[s], at[s + 1] - at[s]) != 0:
                    free(order)
                    return -1
                done |= 1 << s
        free(order)
        counter.clear()
        return 0

    cdef int add_shard(self, int s, PieceCounter counter, const int32_t* which,
                       Py_ssize_t n) noexcept nogil:
        """Add counter's slots which[0:n] to shard s, whose lock is held, and release it."""
        cdef int failed = (<PieceCounter>self.tables[s]).add_slots(counter, which, n)
        PyThread_release_lock(self.locks[s])
        return failed

    def byte_arrays(self):
        """(text uint8, offsets int64, counts int64): the counted pieces, shard by shard."""
        return _joined([shard.byte_arrays() for shard in self.shards])

    def arrays(self):
        """(symbols int32, offsets int64, counts int64): the WordTable of the counted pieces."""
        return _joined([shard.arrays() for shard in self.shards])


def _joined(parts):
    """(text, offsets, counts) of several tables as one."""
    texts, offsets, counts = zip(*parts)
    joined = np.empty(sum(len(c) for c in counts) + 1, dtype=np.int64)
    at = start = 0
    for text, part in zip(texts, offsets):
        joined[at:at + len(part)] = part + start
        at += len(part) - 1
        start += len(text)
    return np.concatenate(texts), joined, np.concatenate(counts)
