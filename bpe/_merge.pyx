# cython: language_level=3
"""The training merge loop: WordTable in, merges out.

Each step takes the most frequent adjacent pair (ties: the greater (bytes_a, bytes_b)),
gives it the next token id, and rewrites only the words that contain it, adjusting only the
counts of the pairs next to each occurrence. Nothing is recounted from scratch. A pair whose
bytes together are already a token is never merged (it can only arise over a base
vocabulary: docs/architecture.md, "Continued training").

State, all in C:
- words: the WordTable's symbols, rewritten in place (`lengths` shrink);
- pairs: slots found through a PairMap, each with its count and the list of words it was
  seen in (stale entries are allowed and skipped: a word is rescanned anyway);
- a max-heap of (count, pair) with lazy invalidation: a count that drops leaves its entry
  behind, fixed up when it surfaces; a count that rises pushes a fresh entry;
- every token's bytes, by id (the tie rule) and by hash (the tokens that exist).

The limits (Hugging Face's BpeTrainer's): a pair whose merged token would be longer than
max_token_length bytes is never queued (a pair's tokens, and so its length, never change, so
it can never be chosen); the loop stops when the best pair's count is below min_frequency.
"""
import threading

import numpy as np

cimport numpy as cnp
from libc.stdint cimport INT64_MAX, int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memset
from libcpp.vector cimport vector

from bpe._hashing cimport hash_bytes
from bpe._pairmap cimport PairMap, pair_key, pairmap_free, pairmap_get, pairmap_init, pairmap_put
from bpe._signals cimport interrupted, raise_pending, watch

cnp.import_array()

cdef enum:
    # Ctrl-C: words of WATCH_SYMBOLS or more, merged on the main thread, look for a signal
    # every WATCH_STEPS merges
    WATCH_SYMBOLS = 1 << 16
    WATCH_STEPS = 64
    # A merge visits its words in table order, which keeps only words with a shared prefix
    # together (PieceCounter.by_prefix), so most words are a cache miss: the loop
    # prefetches a word's offset and length PREFETCH_INDEX words ahead and its symbols
    # PREFETCH_SYMBOLS words ahead (the symbols need the offset, fetched by then).
    PREFETCH_INDEX = 32
    PREFETCH_SYMBOLS = 16
    BYTE_PAIRS = 256        # count_pairs' dense array: pairs of ids below this

cdef extern from "bpe_vectors.h" nogil:
    int bpe_push[T](vector[T]& v, T x) nogil
    ctypedef struct bpe_words:
        int32_t size
    const int32_t* bpe_words_data(const bpe_words* v)
    int32_t bpe_words_back(const bpe_words* v)
    int bpe_words_push(bpe_words* v, int32_t w)
    void bpe_words_free(bpe_words* v)

cdef extern from *:
    void __builtin_prefetch(const void* address) nogil


cdef bpe_words no_words      # (static: zeroed, an empty list)


cdef struct HeapEntry:
    int64_t count
    int32_t pair


cdef struct Neighbour:
    # The slots of the pairs that a merge of (a, b) into c changes next to a token x, found
    # once a step: (x, a) -> (x, c) when x is left of an occurrence, (b, x) -> (c, x) when
    # right of it. A merge meets the same few neighbours thousands of times (the space
    # before a word, the letter after it), so most of its pair updates index this array
    # instead of probing the pair index.
    int32_t left_step
    int32_t left_drop
    int32_t left_add
    int32_t right_step
    int32_t right_drop
    int32_t right_add


cdef class _MergeLoop:
    cdef int32_t* symbols
    cdef const int64_t* offsets
    cdef int32_t* lengths
    cdef const int64_t* counts
    cdef Py_ssize_t n_words

    cdef PairMap pair_index
    cdef vector[int32_t] pair_left
    cdef vector[int32_t] pair_right
    cdef vector[int64_t] pair_count
    cdef vector[bpe_words] pair_words    # (their buffers freed by __dealloc__)
    cdef vector[int32_t] pair_stamp      # last step that queued the pair for a heap push
    cdef vector[uint8_t] pair_allowed    # merged token within max_token_length bytes
    cdef vector[int32_t] rising          # pairs whose count rose during this step
    cdef vector[int32_t] word_stamp      # last step that rewrote the word
    cdef vector[Neighbour] neighbours    # by token id
    cdef vector[HeapEntry] heap

    cdef vector[uint8_t] token_bytes     # id -> bytes, for the tie-break
    cdef vector[int64_t] token_offsets
    cdef PairMap token_index             # hash of a token's bytes -> the last id with it
    cdef vector[int32_t] same_hash       # id -> the id indexed before it under its hash
    cdef int32_t first_id                # merge k makes id first_id + k
    cdef int32_t merged_pair
    cdef int64_t max_token_length        # bytes of a merged token (INT64_MAX: no limit)
    cdef int64_t min_frequency           # the count the best pair needs for a merge
    cdef public int32_t step

    def __dealloc__(self):
        cdef size_t k
        for k in range(self.pair_words.size()):
            bpe_words_free(&self.pair_words[k])
        pairmap_free(&self.pair_index)
        pairmap_free(&self.token_index)

    # --- token bytes and the pair order -------------------------------------------------

    cdef inline int compare_tokens(self, int32_t x, int32_t y) noexcept nogil:
        if x == y:
            return 0
        cdef int64_t x0 = self.token_offsets[x], y0 = self.token_offsets[y]
        cdef int64_t nx = self.token_offsets[x + 1] - x0, ny = self.token_offsets[y + 1] - y0
        cdef int c = memcmp(&self.token_bytes[x0], &self.token_bytes[y0], nx if nx < ny else ny)
        if c != 0:
            return c
        return <int>(nx - ny)

    cdef inline bint ranks_above(self, HeapEntry e, HeapEntry f) noexcept nogil:
        """Whether e is merged before f: higher count, then greater (bytes_a, bytes_b)."""
        if e.count != f.count:
            return e.count > f.count
        cdef int c = self.compare_tokens(self.pair_left[e.pair], self.pair_left[f.pair])
        if c != 0:
            return c > 0
        return self.compare_tokens(self.pair_right[e.pair], self.pair_right[f.pair]) > 0

    # --- the tokens that exist ----------------------------------------------------------

    cdef int add_token(self) noexcept nogil:
        """Make the bytes after the last token's (put there by push_bytes) the next id's and
        index them; -1 when out of memory. An empty token (an id no token has) is not
        indexed."""
        cdef int32_t token = <int32_t>self.same_hash.size()
        cdef int64_t start = self.token_offsets.back()
        cdef int64_t n = <int64_t>self.token_bytes.size() - start
        cdef uint64_t key
        if bpe_push[int64_t](self.token_offsets, start + n) != 0:
            return -1
        if n == 0:
            return bpe_push[int32_t](self.same_hash, -1)
        key = hash_bytes(&self.token_bytes[start], n) >> 1      # never all ones (empty)
        if bpe_push[int32_t](self.same_hash, <int32_t>pairmap_get(&self.token_index, key, -1)) != 0:
            return -1
        return pairmap_put(&self.token_index, key, token)

    cdef int push_bytes(self, int32_t token) noexcept nogil:
        """Append the token's bytes after the last token's; -1 when out of memory."""
        cdef int64_t k
        for k in range(self.token_offsets[token], self.token_offsets[token + 1]):
            if bpe_push[uint8_t](self.token_bytes, self.token_bytes[k]) != 0:
                return -1
        return 0

    cdef bint pushed_bytes_are_a_token(self) noexcept nogil:
        """Whether the bytes after the last token's are some token's bytes."""
        cdef int64_t start = self.token_offsets.back()
        cdef int64_t n = <int64_t>self.token_bytes.size() - start, t
        if n == 0:
            return False
        t = pairmap_get(&self.token_index, hash_bytes(&self.token_bytes[start], n) >> 1, -1)
        while t >= 0:
            if (self.token_offsets[t + 1] - self.token_offsets[t] == n
                    and memcmp(&self.token_bytes[self.token_offsets[t]],
                               &self.token_bytes[start], n) == 0):
                return True
            t = self.same_hash[t]
        return False

    # --- the heap -------------------------------------------------------------------

    cdef int heap_push(self, int64_t count, int32_t pair) noexcept nogil:
        """Queue (count, pair); -1 when out of memory."""
        cdef HeapEntry e
        e.count = count
        e.pair = pair
        if bpe_push[HeapEntry](self.heap, e) != 0:
            return -1
        cdef size_t i = self.heap.size() - 1, parent
        while i > 0:
            parent = (i - 1) >> 1
            if not self.ranks_above(e, self.heap[parent]):
                break
            self.heap[i] = self.heap[parent]
            i = parent
        self.heap[i] = e
        return 0

    cdef HeapEntry heap_pop(self) noexcept nogil:
        cdef HeapEntry top = self.heap[0]
        cdef HeapEntry last = self.heap.back()
        self.heap.pop_back()
        cdef size_t n = self.heap.size(), i = 0, child
        if n == 0:
            return top
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and self.ranks_above(self.heap[child + 1], self.heap[child]):
                child += 1
            if not self.ranks_above(self.heap[child], last):
                break
            self.heap[i] = self.heap[child]
            i = child
        self.heap[i] = last
        return top

    cdef inline int64_t token_length(self, int32_t x) noexcept nogil:
        return self.token_offsets[x + 1] - self.token_offsets[x]

    # --- pair counts ------------------------------------------------------------------

    cdef int32_t pair_slot(self, int32_t a, int32_t b) noexcept nogil:
        """The slot of pair (a, b), created with count 0 if new; -1 when out of memory."""
        cdef int64_t slot = pairmap_get(&self.pair_index, pair_key(a, b), -1)
        if slot >= 0:
            return <int32_t>slot
        slot = <int64_t>self.pair_left.size()
        if (pairmap_put(&self.pair_index, pair_key(a, b), slot) != 0
                or bpe_push[int32_t](self.pair_left, a) != 0 or bpe_push[int32_t](self.pair_right, b) != 0
                or bpe_push[int64_t](self.pair_count, 0) != 0
                or bpe_push[bpe_words](self.pair_words, no_words) != 0
                or bpe_push[int32_t](self.pair_stamp, -1) != 0
                or bpe_push[uint8_t](self.pair_allowed, self.token_length(a) + self.token_length(b)
                                     <= self.max_token_length) != 0):
            return -1
        return <int32_t>slot

    cdef inline void pair_drop(self, int32_t slot, int64_t count) noexcept nogil:
        if slot != self.merged_pair:     # the merged pair is gone everywhere; it stays 0
            self.pair_count[slot] -= count

    cdef inline int pair_add(self, int32_t slot, int64_t count, int32_t word) noexcept nogil:
        self.pair_count[slot] += count
        if not self.pair_allowed[slot]:  # never merged: no words to list, never queued
            return 0
        cdef bpe_words* seen_in = &self.pair_words[slot]
        if (seen_in.size == 0 or bpe_words_back(seen_in) != word) and bpe_words_push(seen_in, word) != 0:
            return -1
        if self.pair_stamp[slot] != self.step:
            self.pair_stamp[slot] = self.step
            if bpe_push[int32_t](self.rising, slot) != 0:
                return -1
        return 0

    # --- the loop ---------------------------------------------------------------------

    cdef int count_pairs(self) noexcept nogil:
        # The pairs of the first BYTE_PAIRS ids (all of them when the words are bytes) are
        # remembered in a dense array: most of the symbols' pairs are found there, not in
        # the pair index.
        cdef int32_t* byte_slots = <int32_t*>malloc(BYTE_PAIRS * BYTE_PAIRS * sizeof(int32_t))
        if byte_slots == NULL:
            return -1
        memset(byte_slots, 0xFF, BYTE_PAIRS * BYTE_PAIRS * sizeof(int32_t))
        cdef int done = self.count_words(byte_slots)
        free(byte_slots)
        return done

    cdef int count_words(self, int32_t* byte_slots) noexcept nogil:
        """count_pairs' pass over the words, then the heap; -1 when out of memory."""
        cdef Py_ssize_t w, i
        cdef int64_t start
        cdef int32_t slot, x, y
        for w in range(self.n_words):
            start = self.offsets[w]
            for i in range(self.lengths[w] - 1):
                x, y = self.symbols[start + i], self.symbols[start + i + 1]
                if x < BYTE_PAIRS and y < BYTE_PAIRS:
                    slot = byte_slots[x * BYTE_PAIRS + y]
                    if slot < 0:
                        slot = byte_slots[x * BYTE_PAIRS + y] = self.pair_slot(x, y)
                else:
                    slot = self.pair_slot(x, y)
                if slot < 0:
                    return -1
                self.pair_count[slot] += self.counts[w]
                if self.pair_allowed[slot] and (
                        (self.pair_words[slot].size == 0 or bpe_words_back(&self.pair_words[slot]) != w)
                        and bpe_words_push(&self.pair_words[slot], <int32_t>w) != 0):
                    return -1
        for slot in range(<int32_t>self.pair_count.size()):
            if (self.pair_count[slot] > 0 and self.pair_allowed[slot]
                    and self.heap_push(self.pair_count[slot], slot) != 0):
                return -1
        return 0

    cdef int32_t next_pair(self) noexcept nogil:
        """Pop the best live pair whose bytes together are no token yet, and leave those
        bytes after the last token's (for add_token): -1 when no pair is left or the best is
        below min_frequency, -2 when out of memory. (Every live pair has an entry of at
        least its count, so the first entry that is up to date is the best pair.)"""
        cdef HeapEntry top
        cdef int64_t now
        cdef size_t end = self.token_bytes.size()
        while not self.heap.empty():
            top = self.heap_pop()
            now = self.pair_count[top.pair]
            if now == top.count:
                if now <= 0 or now < self.min_frequency:
                    return -1
                if self.push_bytes(self.pair_left[top.pair]) != 0 or \
                        self.push_bytes(self.pair_right[top.pair]) != 0:
                    return -2
                if not self.pushed_bytes_are_a_token():
                    return top.pair
                while self.token_bytes.size() > end:    # dropped: a later rise of its
                    self.token_bytes.pop_back()         # count pushes it again
                continue
            if 0 < now < top.count and self.heap_push(now, top.pair) != 0:
                return -2                # (the count dropped since the push: requeued)
        return -1

    cdef Neighbour* left_of(self, int32_t x, int32_t a, int32_t new_id) noexcept nogil:
        """x's slots of (x, a) and (x, new_id) this step (the second made if new); NULL when
        out of memory. (x, a) exists: x is next to a in some word."""
        cdef Neighbour* nb = &self.neighbours[x]
        if nb.left_step != self.step:
            nb.left_drop = <int32_t>pairmap_get(&self.pair_index, pair_key(x, a), -1)
            nb.left_add = self.pair_slot(x, new_id)
            if nb.left_add < 0:
                return NULL
            nb.left_step = self.step
        return nb

    cdef Neighbour* right_of(self, int32_t x, int32_t b, int32_t new_id) noexcept nogil:
        """x's slots of (b, x) and (new_id, x) this step; NULL when out of memory."""
        cdef Neighbour* nb = &self.neighbours[x]
        if nb.right_step != self.step:
            nb.right_drop = <int32_t>pairmap_get(&self.pair_index, pair_key(b, x), -1)
            nb.right_add = self.pair_slot(new_id, x)
            if nb.right_add < 0:
                return NULL
            nb.right_step = self.step
        return nb

    cdef int merge_word(self, int32_t w, int32_t a, int32_t b, int32_t new_id) noexcept nogil:
        """Replace (a, b) by new_id left to right in word w, adjusting neighbouring pairs."""
        cdef int32_t* s = self.symbols + self.offsets[w]
        cdef int32_t n = self.lengths[w], i = 0, j = 0
        cdef int64_t count = self.counts[w]
        cdef Neighbour* nb
        while i < n:
            if i + 1 < n and s[i] == a and s[i + 1] == b:
                if j > 0:
                    nb = self.left_of(s[j - 1], a, new_id)
                    if nb == NULL:
                        return -1
                    self.pair_drop(nb.left_drop, count)
                    if self.pair_add(nb.left_add, count, w) != 0:
                        return -1
                if i + 2 < n:
                    nb = self.right_of(s[i + 2], b, new_id)
                    if nb == NULL:
                        return -1
                    self.pair_drop(nb.right_drop, count)
                    if self.pair_add(nb.right_add, count, w) != 0:
                        return -1
                s[j] = new_id
                i += 2
            else:
                s[j] = s[i]
                i += 1
            j += 1
        self.lengths[w] = j
        return 0

    cdef int run(self, int32_t n_merges, int32_t[:, ::1] merges, bint watched) noexcept nogil:
        """Do up to n_merges merges into `merges`; the number done, -1 out of memory, -2
        interrupted (watched: look for a signal every WATCH_STEPS merges, _signals.pxd)."""
        cdef int32_t step, pair, a, b, new_id, w
        cdef size_t k, i, n
        cdef bpe_words taken
        cdef const int32_t* words
        for step in range(n_merges):
            self.step = step
            if watched and step % WATCH_STEPS == WATCH_STEPS - 1 and interrupted():
                return -2
            pair = self.next_pair()
            if pair == -2:
                return -1
            if pair < 0:
                return step
            a = self.pair_left[pair]
            b = self.pair_right[pair]
            new_id = self.first_id + step
            merges[step, 0] = a
            merges[step, 1] = b
            if self.add_token() != 0:       # (its bytes: next_pair put them there)
                return -1

            self.merged_pair = pair
            self.pair_count[pair] = 0
            taken = self.pair_words[pair]
            self.pair_words[pair] = no_words
            words, n = bpe_words_data(&taken), <size_t>taken.size
            self.rising.clear()
            for k in range(n):
                if k + PREFETCH_INDEX < n:
                    w = words[k + PREFETCH_INDEX]
                    __builtin_prefetch(&self.offsets[w])
                    __builtin_prefetch(&self.lengths[w])
                    __builtin_prefetch(&self.counts[w])
                    __builtin_prefetch(&self.word_stamp[w])
                if k + PREFETCH_SYMBOLS < n:
                    __builtin_prefetch(self.symbols + self.offsets[words[k + PREFETCH_SYMBOLS]])
                w = words[k]
                if self.word_stamp[w] == step:
                    continue
                self.word_stamp[w] = step
                if self.merge_word(w, a, b, new_id) != 0:
                    bpe_words_free(&taken)
                    return -1
            bpe_words_free(&taken)
            for i in range(self.rising.size()):
                pair = self.rising[i]
                if self.pair_count[pair] > 0 and self.heap_push(self.pair_count[pair], pair) != 0:
                    return -1
        return n_merges


def merge_words(const int32_t[::1] symbols, const int64_t[::1] offsets,
                const int64_t[::1] counts, Py_ssize_t n_merges, progress=None, *, tokens=None,
                int64_t min_frequency=0, max_token_length=None, bint in_place=False):
    """Learn up to `n_merges` merges from unique words of byte ids (0..255) with counts.

    Returns an int32 array of shape (n_done, 2): row k is the pair of ids merged into
    id 256 + k. Fewer rows than asked means no pair was left of count >= min_frequency.
    A pair whose merged token would be longer than max_token_length bytes (None: no limit)
    is never merged. The inputs are not modified, but with in_place: then the loop rewrites
    `symbols` (a writable int32 NumPy array; left meaningless) instead of a copy of them,
    for a caller that drops them after (a copy would add their size to peak memory).
    `progress(n_done)`, if given, is called a few times a second from another thread.

    tokens: the bytes of each id of a base vocabulary (b"" for an id no token has), whose
    ids the words then hold instead of bytes; merge k makes id len(tokens) + k. A pair whose
    bytes together are already a token (a base token, or one an earlier merge made) is
    never merged. Without tokens, the base is the 256 bytes.
    """
    cdef Py_ssize_t n_words = counts.shape[0]
    if offsets.shape[0] != n_words + 1:
        raise ValueError(f"offsets has {offsets.shape[0]} entries, expected n_words + 1 = {n_words + 1}")
    if n_words and (offsets[0] != 0 or offsets[n_words] != symbols.shape[0]):
        raise ValueError(f"offsets must run from 0 to len(symbols) = {symbols.shape[0]}, "
                         f"got {offsets[0]} to {offsets[n_words]}")
    if n_words and np.any(np.diff(np.asarray(offsets)) < 0):
        raise ValueError("offsets must not decrease")
    if tokens is None:
        tokens = [bytes([b]) for b in range(256)]
        what = "byte ids in 0..255"
    else:
        tokens = list(tokens)
        for i, token in enumerate(tokens):
            if not isinstance(token, bytes):
                raise TypeError(f"tokens[{i}] is a {type(token).__name__}; expected bytes")
        what = f"ids of tokens, in 0..{len(tokens) - 1}"
    cdef Py_ssize_t first_id = len(tokens)
    if n_merges < 0 or n_merges > 2**31 - 1 - first_id:
        raise ValueError(f"n_merges={n_merges} must be in 0..{2**31 - 1 - first_id}")
    if min_frequency < 0:
        raise ValueError(f"min_frequency={min_frequency} must be >= 0")
    cdef int64_t max_length = INT64_MAX
    if max_token_length is not None:
        if max_token_length < 1:
            raise ValueError(f"max_token_length={max_token_length} must be >= 1 or None")
        max_length = min(max_token_length, INT64_MAX)

    cdef cnp.ndarray[int32_t, ndim=1] work
    if in_place:
        work = symbols.base if isinstance(symbols.base, np.ndarray) else None
        if work is None or not work.flags.writeable or work.shape[0] != symbols.shape[0]:
            raise ValueError("in_place needs symbols to be a writable int32 NumPy array")
    else:
        work = np.array(symbols, dtype=np.int32, copy=True)
    cdef cnp.ndarray[int32_t, ndim=1] lengths = np.diff(np.asarray(offsets)).astype(np.int32)
    if work.shape[0] and (work.min() < 0 or work.max() >= first_id):
        raise ValueError(f"symbols must be {what}")
    no_token = [i for i, token in enumerate(tokens) if not token]
    if no_token and np.isin(work, no_token).any():
        raise ValueError(f"symbols must be {what}; tokens gives id "
                         f"{work[np.isin(work, no_token)][0]} no bytes")
    merges = np.zeros((n_merges, 2), dtype=np.int32)
    cdef int32_t[:, ::1] merges_view = merges

    cdef _MergeLoop loop = _MergeLoop()
    cdef Neighbour no_neighbour
    no_neighbour.left_step = no_neighbour.left_drop = no_neighbour.left_add = -1
    no_neighbour.right_step = no_neighbour.right_drop = no_neighbour.right_add = -1
    loop.symbols = &work[0] if work.shape[0] else NULL
    loop.offsets = &offsets[0]
    loop.lengths = &lengths[0] if n_words else NULL
    loop.counts = &counts[0] if n_words else NULL
    loop.n_words = n_words
    loop.first_id = <int32_t>first_id
    loop.merged_pair = -1
    loop.min_frequency = min_frequency
    loop.max_token_length = max_length
    loop.step = -1
    try:                                # (resize, not assign: assign is declared without
        loop.word_stamp.resize(n_words, -1)     # except +, and its bad_alloc would end the
        loop.neighbours.resize(first_id + n_merges, no_neighbour)      # process)
    except MemoryError:
        raise MemoryError(f"no memory for the merge loop's {n_words} words") from None
    if (pairmap_init(&loop.token_index, first_id) != 0
            or bpe_push[int64_t](loop.token_offsets, 0) != 0):
        raise MemoryError("no memory for the merge loop's tokens")
    cdef const uint8_t[::1] data
    cdef Py_ssize_t k
    for data in tokens:
        for k in range(data.shape[0]):
            if bpe_push[uint8_t](loop.token_bytes, data[k]) != 0:
                raise MemoryError("no memory for the merge loop's tokens")
        if loop.add_token() != 0:
            raise MemoryError("no memory for the merge loop's tokens")

    cdef int done
    if pairmap_init(&loop.pair_index, 1024) != 0:
        raise MemoryError("no memory for the pair index")
    cdef bint watched = watch(work.shape[0], WATCH_SYMBOLS)
    stop = threading.Event()
    if progress is not None:           # the loop holds no GIL, so a thread can watch it
        watcher = threading.Thread(target=_watch, args=(loop, progress, stop), daemon=True)
        watcher.start()
    try:
        with nogil:
            done = loop.count_pairs()
            if done == 0:
                done = loop.run(<int32_t>n_merges, merges_view, watched)
        if done == -2:
            raise_pending()            # Ctrl-C: KeyboardInterrupt, the watcher stopped first
    finally:
        stop.set()
        if progress is not None:
            watcher.join()
    if progress is not None:
        progress(max(done, 0))
    if done < 0:
        raise MemoryError("out of memory in the merge loop")
    return merges[:done].copy()


def _watch(_MergeLoop loop, progress, stop):
    while not stop.wait(0.2):
        progress(max(loop.step, 0))
