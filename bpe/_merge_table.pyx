# cython: language_level=3
"""The merge table and per-piece BPE.

MergeTable: pair (a, b) -> (rank, merged id), in a PackedPairs (one 8-byte word per pair,
where every id is below 2**21 and the merged ids rise with the rank: the merged id then
stands for the rank) or else in a PairMap, plus the id of each single byte. Inside a piece,
the adjacent pair of lowest rank is merged (leftmost on ties) until no pair has a rank:
short pieces with arrays (a scan per merge), long ones with a min-heap over a linked list,
so a megabyte of spaces costs n log n, not n^2. Where no merge joins two bytes (junctions),
the piece is cut there and its parts are merged on their own. Whole tokens
(`take_whole_tokens`, tiktoken's rule and Hugging Face's ignore_merges): a piece that is one
of them is its id, unmerged.

`merge_piece` is what the encode loops (_encode.pyx) call on a cache miss;
`MergeTable.encode_piece` is the same for one piece of bytes from Python (tests).
`int32_stats` summarises int32 arrays (min, max, sum, order) and `first_unnamed` finds an id
that no token has, for the checks of the tables a MergeTable is made from
(formats.TokenTables.checked).
"""
cimport cython
from libc.stdint cimport INT64_MAX, int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from cpython.bytes cimport PyBytes_AS_STRING
from libc.string cimport memcmp, memset
from libcpp.vector cimport vector

from bpe._hashing cimport hash_bytes
from bpe._pairmap cimport (PACKED_ID_BITS, packed_add, packed_free, packed_get, packed_init,
                          packed_mix, packed_pair, pair_key, pairmap_free, pairmap_get,
                          pairmap_get_mixed, pairmap_init, pairmap_mix, pairmap_put)

cdef extern from "bpe_close_gap.h" nogil:
    void bpe_close_gap(int32_t* a, Py_ssize_t start, Py_ssize_t end)
    void bpe_close_gap(int64_t* a, Py_ssize_t start, Py_ssize_t end)

cdef extern from *:
    void __builtin_prefetch(const void* address) nogil

cdef enum:
    SHORT_PIECE = 96        # pieces up to this many bytes use the array algorithm
    STACK_PIECE = 256       # merge_long's buffers live on the stack up to this many bytes

SHORT_PIECE_BYTES = SHORT_PIECE    # for tests: longer pieces take the heap algorithm


cdef int _merge_ranks(const int32_t[::1] merged, vector[int32_t]& ranks) except -1:
    """Set ranks to the rank of each merge: its place in the list, or, in a run of merges
    that make one token (tiktoken's splits of it: merges_from_ranks), the run's first place.
    Such merges tie, and the leftmost pair goes first, as in tiktoken. Filled in place, not
    returned: a returned vector is copied where bad_alloc is not turned into MemoryError."""
    cdef Py_ssize_t k
    ranks.resize(merged.shape[0])
    for k in range(merged.shape[0]):
        if k > 0 and merged[k] == merged[k - 1] and merged[k] >= 0:
            ranks[k] = ranks[k - 1]
        else:
            ranks[k] = <int32_t>k
    return 0


@cython.final
cdef class MergeTable:
    """Merge ranks for encoding: merge k joins (left[k], right[k]) into merged[k], at rank
    k (or its run's first place: see _merge_ranks).

    Attributes: packed or ranks (the pairs), byte_ids, byte_pair_ranks (every pair of
    bytes, for the first round), junctions, present (a filter before the probe), n_merges,
    the whole tokens (n_wholes of them).
    Thread-safety: read-only once made; any number of threads encode with one."""

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
            spot = packed_mix(pair_key(left[k], right[k])) >> self.present_shift
            self.present[spot >> 6] |= (<uint64_t>1) << (spot & 63)
        for k in range(65536):
            self.byte_pair_ranks[k] = rank_of(self, self.byte_ids[k >> 8], self.byte_ids[k & 255])
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
                       packed_mix(pair_key(left[k], right[k])), <uint64_t>merged[k])
        return True

    cdef fill_ranks(self, const int32_t[::1] left, const int32_t[::1] right,
                    const int32_t[::1] merged):
        """Fill the PairMap with each pair's rank and merged id."""
        cdef Py_ssize_t k
        cdef uint64_t key
        cdef vector[int32_t] ranks
        _merge_ranks(merged, ranks)
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
        for k in range(256):                    # (in Py_ssize_t: an id may be 2**31 - 1)
            top = max(top, <Py_ssize_t>self.byte_ids[k] + 1)
        for k in range(self.n_merges):
            top = max(top, <Py_ssize_t>left[k] + 1, <Py_ssize_t>right[k] + 1,
                      <Py_ssize_t>merged[k] + 1)
        cdef vector[int32_t] first, last        # each token's first and last byte; -1: unknown
        try:                                    # (resize, not assign: assign is declared
            first.resize(top, -1)               # without except +, and its bad_alloc
            last.resize(top, -1)                # would end the process)
        except MemoryError:
            raise MemoryError(f"no memory for the merge table: token ids up to {top - 1} "
                              f"take {8 * top} bytes of byte tables") from None
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
        pairmap_free(&self.wholes)
        free(self.byte_pair_ranks)
        free(self.present)

    @property
    def is_packed(self):
        """Whether the pairs are in a PackedPairs (else in a PairMap)."""
        return self.packed.entries != NULL


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
                ranks[best - 1] = rank_of(self, out[best - 1], out[best])
            if best < m - 1:
                ranks[best] = rank_of(self, out[best], out[best + 1])
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
            found = rank_of(self, sym[pos], sym[right])
            if found == INT64_MAX or (<uint64_t>found >> 32) != (top >> 32):
                continue                 # stale: the pair here changed since the push
            sym[pos] = <int32_t>(found & 0xFFFFFFFFULL)
            sym[right] = -1
            nxt[pos] = nxt[right]
            if nxt[pos] >= 0:
                prv[nxt[pos]] = <int32_t>pos
                found = rank_of(self, sym[pos], sym[nxt[pos]])
                if found != INT64_MAX:
                    size = _push(heap, size, ((<uint64_t>found >> 32) << 32) | <uint64_t>pos)
            if prv[pos] >= 0:
                found = rank_of(self, sym[prv[pos]], sym[pos])
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
        cdef int32_t whole
        if self.n_wholes:
            whole = self.whole_id(text, n)
            if whole >= 0:
                out[0] = whole
                return 1
        for i in range(1, n):
            pair = (<uint32_t>text[i - 1] << 8) | text[i]
            if not (self.junctions[pair >> 6] >> (pair & 63)) & 1:
                got = merge_part(self, text + start, i - start, out + m)
                if got < 0:
                    return -1
                m += got
                start = i
        got = merge_part(self, text + start, n - start, out + m)
        return -1 if got < 0 else m + got

    cdef Py_ssize_t merge_dropout(self, const uint8_t* text, Py_ssize_t n, int32_t* out,
                                  uint64_t threshold, uint64_t* rng) noexcept nogil:
        """BPE-dropout of a piece (Provilkov et al.), by Hugging Face's rule: the candidate
        merges are kept in a min-heap of (rank, position); each one taken off it is dropped
        with probability threshold / 2**53 (a draw from rng, a splitmix64 state) and set
        aside, and the set-aside ones go back on the heap when one is not dropped, before
        it is checked and merged. A stale candidate (its pair changed) takes its draw too.
        The piece is done when the heap is empty. No junction cuts (a dropped candidate
        comes back after a merge anywhere in the piece) and no cache. Buffers on the stack
        up to STACK_PIECE bytes; -1 out of memory."""
        cdef uint64_t entries[6 * STACK_PIECE]
        cdef int32_t links[3 * STACK_PIECE]
        cdef uint64_t* block
        cdef Py_ssize_t m
        if n <= STACK_PIECE:
            return self.dropout_heap(text, n, out, threshold, rng, entries, links)
        if n >= 0x7FFFFFFF:
            return -1                   # positions are 32-bit
        # 3n entries: n - 1 to start, at most 2 pushes a merge; those set aside, as many
        block = <uint64_t*>malloc(n * (6 * sizeof(uint64_t) + 3 * sizeof(int32_t)))
        if block == NULL:
            return -1
        m = self.dropout_heap(text, n, out, threshold, rng, block, <int32_t*>(block + 6 * n))
        free(block)
        return m

    cdef Py_ssize_t dropout_heap(self, const uint8_t* text, Py_ssize_t n, int32_t* out,
                                 uint64_t threshold, uint64_t* rng, uint64_t* heap,
                                 int32_t* sym) noexcept nogil:
        """merge_dropout on buffers of 6n entries (the heap, then those set aside) and 3n
        links (symbols, next, previous)."""
        cdef Py_ssize_t i, m = 0, size = 0, n_skipped = 0, pos, right
        cdef int64_t found
        cdef uint64_t top
        cdef uint64_t* skipped = heap + 3 * n
        cdef int32_t* nxt = sym + n
        cdef int32_t* prv = nxt + n
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
            if (_next_random(rng) >> 11) < threshold:
                skipped[n_skipped] = top
                n_skipped += 1
                continue
            for i in range(n_skipped):
                size = _push(heap, size, skipped[i])
            n_skipped = 0
            pos = <Py_ssize_t>(top & 0xFFFFFFFFULL)
            if sym[pos] < 0 or nxt[pos] < 0:
                continue                 # merged away, or now the last symbol
            right = nxt[pos]
            found = rank_of(self, sym[pos], sym[right])
            if found == INT64_MAX or (<uint64_t>found >> 32) != (top >> 32):
                continue                 # stale: the pair here changed since the push
            sym[pos] = <int32_t>(found & 0xFFFFFFFFULL)
            sym[right] = -1
            nxt[pos] = nxt[right]
            if nxt[pos] >= 0:
                prv[nxt[pos]] = <int32_t>pos
            if prv[pos] >= 0:
                found = rank_of(self, sym[prv[pos]], sym[pos])
                if found != INT64_MAX:
                    size = _push(heap, size, ((<uint64_t>found >> 32) << 32) | <uint64_t>prv[pos])
            if nxt[pos] >= 0:
                found = rank_of(self, sym[pos], sym[nxt[pos]])
                if found != INT64_MAX:
                    size = _push(heap, size, ((<uint64_t>found >> 32) << 32) | <uint64_t>pos)
        pos = 0
        while pos >= 0:
            out[m] = sym[pos]
            m += 1
            pos = nxt[pos]
        return m

    def encode_piece_dropout(self, bytes piece, double p, uint64_t seed):
        """The ids of one piece of bytes under BPE-dropout with probability p, its draws
        from a splitmix64 stream started at seed (for tests: see merge_dropout)."""
        cdef Py_ssize_t n = len(piece)
        cdef vector[int32_t] ids
        cdef uint64_t rng = seed
        if n == 0:
            return []
        ids.resize(n)
        cdef Py_ssize_t m = self.merge_dropout(<const uint8_t*>PyBytes_AS_STRING(piece), n,
                                               ids.data(), dropout_threshold(p), &rng)
        if m < 0:
            raise MemoryError("out of memory while encoding a piece")
        return [ids[i] for i in range(m)]

    cdef int32_t whole_id(self, const uint8_t* text, Py_ssize_t n) noexcept nogil:
        """The id of the whole token these bytes are, or -1."""
        cdef int64_t k = pairmap_get(&self.wholes, hash_bytes(text, n) >> 1, -1)
        cdef int64_t start
        while k >= 0:
            start = self.whole_starts[k]
            if (self.whole_starts[k + 1] - start == n
                    and memcmp(self.whole_data + start, text, n) == 0):
                return self.whole_ids[k]
            k = self.whole_next[k]
        return -1

    def take_whole_tokens(self, tokens, ids):
        """Make whole each of tokens (bytes; its id in ids at the same place) that merging
        its bytes does not give as one id: a piece equal to it is then that id, unmerged,
        as tiktoken encodes a piece that is a token and as Hugging Face's BPE does under
        ignore_merges. The others need nothing: merging gives them already. Returns the
        ids made whole. Once, before the table is used (it is read-only after)."""
        if self.whole_blob is not None:
            raise RuntimeError("take_whole_tokens was called already")
        cdef vector[int32_t] buffer
        cdef Py_ssize_t n, m, k
        cdef bytes token
        taken = []
        for token, token_id in zip(tokens, ids, strict=True):
            n = len(token)
            if n == 0:
                continue
            buffer.resize(n)
            m = self.merge_piece(<const uint8_t*>PyBytes_AS_STRING(token), n, buffer.data())
            if m < 0:
                raise MemoryError("out of memory while encoding a token")
            if not (m == 1 and buffer[0] == token_id):
                taken.append((token, token_id))
        self.whole_blob = b"".join([token for token, _ in taken])
        if not taken:
            return []
        if pairmap_init(&self.wholes, len(taken)) != 0:
            raise MemoryError("no memory for the whole tokens")
        self.whole_starts.push_back(0)
        self.whole_data = <const uint8_t*>PyBytes_AS_STRING(self.whole_blob)
        cdef uint64_t key
        for k, (token, token_id) in enumerate(taken):
            n = len(token)
            key = hash_bytes(self.whole_data + self.whole_starts[k], n) >> 1   # not all ones
            self.whole_next.push_back(pairmap_get(&self.wholes, key, -1))        # (empty)
            if pairmap_put(&self.wholes, key, k) != 0:
                raise MemoryError("no memory for the whole tokens")
            self.whole_starts.push_back(self.whole_starts[k] + n)
            self.whole_ids.push_back(token_id)
        self.n_wholes = len(taken)
        return [token_id for _, token_id in taken]

    def encode_piece(self, bytes piece):
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


cdef inline int64_t rank_of(MergeTable self, int32_t a, int32_t b) noexcept nogil:
    """rank << 32 | merged id of the pair's merge (packed: merged id << 32 | merged
    id, which orders the same), or INT64_MAX where the pair does not merge. The filter
    and the packed table hash with packed_mix; a PairMap (rare) with its own mix."""
    cdef uint64_t key = pair_key(a, b)
    cdef uint64_t mixed = packed_mix(key)
    cdef uint64_t spot = mixed >> self.present_shift
    cdef int64_t found
    if self.packed.entries != NULL:      # its line comes in while the filter is read
        __builtin_prefetch(&self.packed.entries[mixed & self.packed.mask])
    if not (self.present[spot >> 6] >> (spot & 63)) & 1:
        return INT64_MAX
    if self.packed.entries != NULL:
        found = packed_get(&self.packed, packed_pair(a, b), mixed, -1)
        return INT64_MAX if found < 0 else (found << 32) | found
    return pairmap_get_mixed(&self.ranks, key, pairmap_mix(key), INT64_MAX)


cdef inline Py_ssize_t merge_part(MergeTable self, const uint8_t* text, Py_ssize_t n,
                                   int32_t* out) noexcept nogil:
    """BPE of a part of a piece (see merge_piece): one or two bytes from the tables, then
    merge_short or merge_long."""
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


cdef inline uint64_t _next_random(uint64_t* state) noexcept nogil:
    """splitmix64: the next 64 random bits of the stream at *state."""
    cdef uint64_t z
    state[0] += 0x9E3779B97F4A7C15ULL
    z = state[0]
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cpdef uint64_t dropout_threshold(double p) except? 0:
    """merge_dropout's threshold for probability p in [0, 1]: a candidate is dropped when
    the top 53 bits of its draw are below it (p = 1: every one)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout={p!r}; expected a probability in [0, 1]")
    return <uint64_t>(p * 9007199254740992.0 + 0.5)     # p * 2**53, rounded


def first_unnamed(const int32_t[::1] ids, const int32_t[::1] named):
    """The first of named that is none of ids, or -1 if every one is among them: the check
    formats.TokenTables.checked makes that every id a merge or a byte names is a token's
    (tables whose ids lost one would encode ids that decode refuses). ids and named are
    in 0..2**31-2 (checked before); one pass over each, with a bit per id up to the
    largest of ids, without the GIL."""
    cdef Py_ssize_t k, n = ids.shape[0]
    cdef int32_t high = -1, value
    cdef uint64_t* seen = NULL
    cdef int64_t missing = -1
    with nogil:
        for k in range(n):
            if ids[k] > high:
                high = ids[k]
        seen = <uint64_t*>calloc((<size_t>(high + 1) >> 6) + 1, sizeof(uint64_t))
        if seen != NULL:
            for k in range(n):
                seen[ids[k] >> 6] |= (<uint64_t>1) << (ids[k] & 63)
            for k in range(named.shape[0]):
                value = named[k]
                if value > high or not (seen[value >> 6] >> (value & 63)) & 1:
                    missing = value
                    break
            free(seen)
    if seen == NULL:
        raise MemoryError("no memory to check the token ids")
    return missing


def int32_stats(const int32_t[::1] values):
    """(min, max, sum, rising) of int32 values, in one pass without the GIL: the checks
    formats.TokenTables.checked makes of a vocabulary's arrays on every load, which a Python
    loop over a few hundred thousand merges would take tens of milliseconds for. rising:
    every value above the one before. An empty array gives (0, -1, 0, True)."""
    cdef Py_ssize_t k, n = values.shape[0]
    cdef int32_t low = 0, high = -1, value
    cdef int64_t total = 0
    cdef bint rising = True
    if n:
        low = high = values[0]
        with nogil:
            for k in range(n):
                value = values[k]
                total += value
                if value < low:
                    low = value
                if value > high:
                    high = value
                if k and value <= values[k - 1]:
                    rising = False
    return low, high, total, rising
