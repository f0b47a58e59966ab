# cython: language_level=3
"""The encode loops: text -> ids, through the pre-tokenizer, the piece cache and the merge
table, without the GIL.

Entry points, named by what they take; each appends ids to an IdBuffer, except
encode_strs, which returns lists:
- encode_pieces(table, pieces, out, cache): a list of str pieces, already cut (patterns
  without a native matcher);
- encode_ordinary(table, text, limit, pattern_id, out, cache): a str holding no special
  token, cut by a native pattern; with limit >= 0 only its settled pieces (streaming);
- encode_str(table, text, pattern_id, out, cache, specials): a whole str, special tokens
  found here (Specials), its UTF-8 made here too;
- encode_utf8(table, data, pattern_id, out, cache, specials): the same for UTF-8 bytes;
- encode_strs(table, texts, pattern_id, cache, specials, ints): many strs in one GIL-free
  pass, each as a list of the shared ints (_ids.PinnedInts).
Beneath them, the nogil layer over raw memory, named the same way with a leading
underscore: _encode_piece (one piece, through its cache slot), _encode_span (the pieces of
a stretch with no special token), _encode_bytes (UTF-8 with special tokens), _encode_view
(a str's code points). Long work on the main thread stops for Ctrl-C (_signals.pxd).
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_Check
from libc.stdint cimport int32_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memchr, memcmp
from libcpp.vector cimport vector

from bpe._hashing cimport KEY_BYTES, hash_bytes, load_key
from bpe._ids cimport IdBuffer, fill_lists
from bpe._merge_table cimport MergeTable
from bpe._piece_cache cimport (CACHE_MAX_BYTES, CACHE_MAX_IDS, IN_WIDE, LONG_MAX_BYTES,
                               CacheLine, CacheSlot, PieceCache, cached_short, cached_wide,
                               keep_in_line, keep_short, line_of, wide_of, wide_of_key)
from bpe._pretokenize cimport (PieceWindow, byte_offset, char_count, check_pattern_id,
                               no_window, piece_end, starts_after)
from bpe._signals cimport interrupted, raise_pending, watch
from bpe._utf8 cimport release_utf8, str_to_utf8, valid_utf8


cdef extern from "bpe_vectors.h" nogil:
    int bpe_push[T](vector[T]& v, T x) nogil

cdef extern from "Python.h":
    Py_ssize_t PyUnicode_GET_LENGTH(object text)
    int PyUnicode_KIND(object text)
    const void* PyUnicode_DATA(object text)
    bint PyUnicode_IS_ASCII(object text)
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL
    void PyObject_GC_UnTrack(object op)

cdef extern from "<string.h>" nogil:
    void* memmem(const void* haystack, size_t haystack_size, const void* needle,
                 size_t needle_size)

cdef extern from *:
    void __builtin_prefetch(const void* address) nogil
    int __builtin_ctzll(unsigned long long x) nogil

cdef enum:
    BLOCK = 64              # pieces found (their cache slots prefetched) before they are encoded
    # Ctrl-C: a text of WATCH_BYTES or more, encoded on the main thread, looks for a signal
    # every WATCH_BLOCKS blocks (about 1 MB of text, a few ms)
    WATCH_BYTES = 1 << 22
    WATCH_BLOCKS = 4096
    MEMMEM_MAX = 8          # special tokens searched one memmem pass each; more: by_bytes


cdef struct Needle:         # a special token, in Specials.by_bytes
    const uint8_t* data
    Py_ssize_t size
    Py_ssize_t index        # its place longest first (in sizes, ids)


@cython.final
cdef class Specials:
    """Special tokens as the kernels search for them: UTF-8 bytes (longest first) and ids.

    The rule (the leftmost special token, the longest of those starting there) is
    specials.find_specials' in Python; tests/test_specials.py holds the two equal.

    Attributes: needles, sizes, ids (longest first), count, and what next_one searches
    with: first, or up to MEMMEM_MAX needles, or by_bytes and pairs.
    Thread-safety: read-only once made, so threads share one."""
    cdef vector[const uint8_t*] needles
    cdef vector[Py_ssize_t] sizes
    cdef vector[int32_t] ids
    cdef Py_ssize_t count
    cdef int first                      # the byte all of them start with and hold nowhere
    cdef tuple tokens                   # else (-1); keeps the bytes alive
    cdef vector[Needle] by_bytes        # more than MEMMEM_MAX: sorted bytewise
    cdef uint64_t pairs[1024]           # and bit (b0 << 8 | b1) set where some token starts
                                        # with b0 b1, or is b0 alone (then for every b1)

    def __cinit__(self, tuple tokens, const int32_t[::1] ids):
        cdef Needle needle
        cdef Py_ssize_t key
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
        if self.count > MEMMEM_MAX:
            # A stable sort: equal tokens keep their order, the first listed first.
            for k in sorted(range(self.count), key=tokens.__getitem__):
                needle.data, needle.size, needle.index = self.needles[k], self.sizes[k], k
                self.by_bytes.push_back(needle)
                key = tokens[k][0] << 8
                if self.sizes[k] == 1:
                    for b in range(key >> 6, (key >> 6) + 4):      # all 256 of b0 _
                        self.pairs[b] = ~<uint64_t>0
                else:
                    key |= tokens[k][1]
                    self.pairs[key >> 6] |= <uint64_t>1 << (key & 63)

    cdef Py_ssize_t next_one(self, const uint8_t* s, Py_ssize_t n, Py_ssize_t pos,
                             Py_ssize_t* found, Py_ssize_t* which) noexcept nogil:
        """The leftmost special token in s[pos:n], the longest of those starting there:
        its start, its index in which; n and -1 if none. With a first byte (see first), one
        memchr pass for all of them; linear, as no token holds its first byte again (a
        partial match ends before the next candidate); each candidate is compared with each
        token, or for more than MEMMEM_MAX by longest_at. Else, for up to MEMMEM_MAX tokens,
        one memmem pass per token (SIMD-fast), found[j] keeping where token j was last
        found (-1 nowhere, -2 not searched yet); for more, one pass for all of them, which
        tries only the places whose first two bytes some token starts with (pairs), each
        by a walk through the sorted tokens (longest_at)."""
        cdef const uint8_t* p
        cdef Py_ssize_t j, at, key, k = -1
        if self.first < 0 and self.count <= MEMMEM_MAX:
            for j in range(self.count):
                if found[j] == -2 or 0 <= found[j] < pos:
                    found[j] = _find(s, n, pos, self.needles[j], self.sizes[j])
                if found[j] >= 0 and (k < 0 or found[j] < found[k]):   # ties: the longer,
                    k = j                                              # listed first
            which[0] = k
            return found[k] if k >= 0 else n
        if self.first < 0:
            for at in range(pos, n):
                if at + 1 < n:          # the last byte can only be a token of one byte
                    key = s[at] << 8 | s[at + 1]
                    if not (self.pairs[key >> 6] >> (key & 63)) & 1:
                        continue
                k = self.longest_at(s + at, n - at)
                if k >= 0:
                    which[0] = k
                    return at
            which[0] = -1
            return n
        while pos < n:
            p = <const uint8_t*>memchr(s + pos, self.first, n - pos)
            if p == NULL:
                break
            at = p - s
            if self.count > MEMMEM_MAX:
                k = self.longest_at(p, n - at)
                if k >= 0:
                    which[0] = k
                    return at
            else:
                for j in range(self.count):           # longest first
                    if self.sizes[j] <= n - at and memcmp(p, self.needles[j], self.sizes[j]) == 0:
                        which[0] = j
                        return at
            pos = at + 1
        which[0] = -1
        return n

    cdef Py_ssize_t longest_at(self, const uint8_t* p, Py_ssize_t n) noexcept nogil:
        """The index (longest first) of the longest token that p[:n] starts with, or -1
        (the first listed of equal ones): a walk through by_bytes, a byte at a time, each
        step narrowing [lo, hi) by binary search to the tokens that start with p[:d]."""
        cdef const Needle* t = self.by_bytes.data()
        cdef Py_ssize_t lo = 0, hi = self.by_bytes.size(), d = 0, a, b, mid, best = -1
        cdef uint8_t c
        while d < n and lo < hi:
            # Here every token in [lo, hi) starts with p[:d] and is longer than d bytes.
            c = p[d]
            a, b = lo, hi
            while a < b:                             # the first whose byte d is >= c
                mid = (a + b) >> 1
                if t[mid].data[d] < c:
                    a = mid + 1
                else:
                    b = mid
            lo, b = a, hi
            while a < b:                             # the first whose byte d is > c
                mid = (a + b) >> 1
                if t[mid].data[d] <= c:
                    a = mid + 1
                else:
                    b = mid
            hi = a
            d += 1
            if lo < hi and t[lo].size == d:          # p[:d] itself sorts first: a match,
                best = t[lo].index                   # the longest so far
                while lo < hi and t[lo].size == d:   # (and any equal to it, listed later)
                    lo += 1
        return best

    def find_all(self, const uint8_t[::1] data, Py_ssize_t stop=-1):
        """(start, index) of each special token in data[:stop] (stop < 0: all of it), as
        the encode loops find them (specials.find_specials is the rule in Python), searched
        without the GIL: counting's threads cut each chunk at them."""
        cdef Py_ssize_t found[MEMMEM_MAX]
        cdef Py_ssize_t pos = 0, at, k, n = data.shape[0] if stop < 0 else min(stop, data.shape[0])
        cdef const uint8_t* s = &data[0] if data.shape[0] else <const uint8_t*>""
        cdef vector[Py_ssize_t] hits        # start, index, start, index...
        cdef int failed = 0
        for k in range(MEMMEM_MAX):
            found[k] = -2
        with nogil:
            while True:
                at = self.next_one(s, n, pos, found, &k)
                if k < 0:
                    break
                if bpe_push[Py_ssize_t](hits, at) != 0 or bpe_push[Py_ssize_t](hits, k) != 0:
                    failed = 1
                    break
                pos = at + self.sizes[k]
        if failed:
            raise MemoryError("out of memory while finding special tokens")
        return [(hits[i], hits[i + 1]) for i in range(0, hits.size(), 2)]


cdef inline Py_ssize_t _find(const uint8_t* s, Py_ssize_t n, Py_ssize_t start,
                             const uint8_t* needle, Py_ssize_t size) noexcept nogil:
    """The first position >= start of needle in s[:n], or -1."""
    cdef const uint8_t* hit = <const uint8_t*>memmem(s + start, n - start, needle, size)
    return -1 if hit == NULL else hit - s


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


# --- the nogil layer -----------------------------------------------------------------------

cdef int _encode_piece(MergeTable table, const uint8_t* text, Py_ssize_t n,
                       const uint8_t* limit, IdBuffer out, PieceCache cache,
                       CacheLine* line, CacheSlot* slot) noexcept nogil:
    """Encode one piece, which ends by limit, through the cache: line is its line (a piece
    of up to KEY_BYTES bytes), else slot its wide slot (up to CACHE_MAX_BYTES), else both
    are NULL (the long-piece cache). A hit copies its ids, a miss merges and caches them.
    The caller has reserved room in out for n + CACHE_MAX_IDS ids. -1 out of memory."""
    cdef int32_t* dst = out.data + out.size
    cdef Py_ssize_t m
    cdef uint64_t h = 0, low = 0, high = 0
    cdef bint cacheable = n <= LONG_MAX_BYTES
    if cache.dropout:
        m = table.merge_dropout(text, n, dst, cache.dropout, &cache.rng)
        if m < 0:
            return -1
        out.size += m
        return 0
    if line != NULL:
        load_key(text, n, limit, &low, &high)
        m = cached_short(line, low, high, n, cache.packed, dst)
        if m >= 0:
            out.size += m
            cache.hits += 1
            return 0
        if (line.form[0] | line.form[1]) & IN_WIDE:
            slot = wide_of_key(cache, low, high)   # where short pieces with many ids are
    if slot != NULL:
        m = cached_wide(slot, text, n, limit, dst)
        if m == -2 or (m == -1 and n > CACHE_MAX_IDS):
            # -2: its ids are in the long-piece table. -1: the slot may have gone to
            # another piece since, while the table still holds this one's many ids (a
            # piece of at most CACHE_MAX_IDS bytes has no more ids than that).
            h = hash_bytes(text, n)
            m = cache.find_long(text, n, h, dst)
        if m >= 0:
            out.size += m
            cache.hits += 1
            return 0
    elif line == NULL and cacheable:
        h = hash_bytes(text, n)
        m = cache.find_long(text, n, h, dst)
        if m >= 0:
            out.size += m
            cache.hits += 1
            return 0
    cache.misses += 1
    m = table.merge_piece(text, n, dst)
    if m < 0:
        return -1
    out.size += m
    if line != NULL:
        if keep_in_line(line, low, high, n, dst, m, cache.packed):
            return 0                           # the ids fit in the line
        slot = wide_of_key(cache, low, high)
    if slot != NULL:
        if m > CACHE_MAX_IDS:                  # a run of CJK, say: the ids go to the long cache
            h = hash_bytes(text, n)
            cache.keep_long(text, n, h, dst, m)
        keep_short(slot, text, n, dst, m)
    elif cacheable:
        cache.keep_long(text, n, h, dst, m)
    return 0


cdef Py_ssize_t _encode_span(MergeTable table, const uint8_t* s, Py_ssize_t start,
                             Py_ssize_t end, Py_ssize_t byte_limit, int pattern_id,
                             IdBuffer out, PieceCache cache, Py_ssize_t* ticks) noexcept nogil:
    """Encode the pieces of s[start:end] (end: a piece boundary, such as a special token)
    into out, which has room for end - start + CACHE_MAX_IDS more ids. With byte_limit
    >= 0 only the settled pieces: not the last, and ending by byte_limit. ticks (NULL: not
    watched) counts blocks down to the next look for a signal (_signals.pxd). Returns where
    encoding stopped, -1 out of memory, -2 interrupted."""
    # Blocks of up to BLOCK pieces: first find them all and prefetch their cache lines
    # (or wide slots), then encode them, by when those have come in. Two tight loops, each with
    # branches of its own to predict, instead of one that interleaves both. Every piece
    # of up to KEY_BYTES, one byte or sixteen, takes the same path: no branch on length.
    # In an ASCII window the pieces come off its bitmap of starts (rest), a bit cleared a
    # piece: the finding loop carries only that word from one piece to the next, where
    # piece_end's next start hung on the last one through a shift and a count.
    cdef Py_ssize_t ends[BLOCK + 1]
    cdef void* places[BLOCK]               # each piece's CacheLine, CacheSlot or NULL
    cdef uint64_t lows[BLOCK]              # the keys (load_key) of pieces of up to
    cdef uint64_t highs[BLOCK]             # KEY_BYTES, kept for the second loop
    cdef Py_ssize_t i = start, j, n, k, count, got, hits = 0, at
    cdef uint64_t rest = 0                 # the window's piece starts after at (starts_after)
    cdef bint packed = cache.packed
    cdef int32_t* dst                      # out's end, kept here in the loop
    cdef PieceWindow window
    no_window(&window)
    if cache.dropout:
        return _dropout_span(table, s, start, end, byte_limit, pattern_id, out, cache, ticks)
    while i < end:
        ends[0] = at = i
        count = 0
        while count < BLOCK and at < end:
            if rest:
                j = window.base + __builtin_ctzll(rest)
                rest &= rest - 1
            else:
                j = piece_end(s, at, end, pattern_id, &window)
                rest = starts_after(&window, j)
            n = j - at
            if n <= KEY_BYTES:
                load_key(s + at, n, s + end, &lows[count], &highs[count])
                places[count] = line_of(cache, lows[count], highs[count])
                __builtin_prefetch(places[count])
            elif n <= CACHE_MAX_BYTES:
                places[count] = wide_of(cache, s + at, n)
                __builtin_prefetch(places[count])
            else:
                places[count] = NULL
            count += 1
            ends[count] = at = j
        dst = out.data + out.size
        for k in range(count):
            j = ends[k + 1]
            if byte_limit >= 0 and (j > byte_limit or j == end):
                out.size = dst - out.data
                cache.hits += hits
                return i
            n = j - i
            if n <= KEY_BYTES and (got := cached_short(<CacheLine*>places[k], lows[k], highs[k],
                                                       n, packed, dst)) >= 0:
                dst += got
                hits += 1
            else:
                out.size = dst - out.data
                if _encode_piece(table, s + i, n, s + end, out, cache,
                                 <CacheLine*>places[k] if n <= KEY_BYTES else NULL,
                                 <CacheSlot*>places[k] if n > KEY_BYTES else NULL) != 0:
                    return -1
                dst = out.data + out.size
            i = j
        out.size = dst - out.data
        if ticks != NULL:
            ticks[0] -= 1
            if ticks[0] <= 0:
                ticks[0] = WATCH_BLOCKS
                if interrupted():
                    cache.hits += hits
                    return -2
    cache.hits += hits
    return i


cdef Py_ssize_t _dropout_span(MergeTable table, const uint8_t* s, Py_ssize_t start,
                              Py_ssize_t end, Py_ssize_t byte_limit, int pattern_id,
                              IdBuffer out, PieceCache cache, Py_ssize_t* ticks) noexcept nogil:
    """_encode_span under BPE-dropout (cache.dropout): each piece merged anew by
    merge_dropout, in order, so that its draws come from cache.rng in text order."""
    cdef Py_ssize_t i = start, j, count = 0
    cdef PieceWindow window
    no_window(&window)
    while i < end:
        j = piece_end(s, i, end, pattern_id, &window)
        if byte_limit >= 0 and (j > byte_limit or j == end):
            return i
        if _encode_piece(table, s + i, j - i, s + end, out, cache, NULL, NULL) != 0:
            return -1
        i = j
        count += 1
        if ticks != NULL and count % BLOCK == 0:
            ticks[0] -= 1
            if ticks[0] <= 0:
                ticks[0] = WATCH_BLOCKS
                if interrupted():
                    return -2
    return i


cdef int _encode_bytes(MergeTable table, const uint8_t* s, Py_ssize_t n, int pattern_id,
                       IdBuffer out, PieceCache cache, Specials specials,
                       Py_ssize_t* ticks) noexcept nogil:
    """Encode s[:n], special tokens and the pieces between them; 1 out of memory, 3
    interrupted (ticks: see _encode_span)."""
    cdef Py_ssize_t found[MEMMEM_MAX]         # where each special token was last found
    cdef Py_ssize_t k, at, done, pos = 0      # (by memmem: see Specials.next_one)
    if out.reserve(n + CACHE_MAX_IDS) != 0:   # a special token of k bytes is one id,
        return 1                              # a piece of k bytes at most k ids
    for k in range(MEMMEM_MAX):
        found[k] = -2
    while True:
        at = specials.next_one(s, n, pos, found, &k)
        done = _encode_span(table, s, pos, at, -1, pattern_id, out, cache, ticks)
        if done < 0:
            return 1 if done == -1 else 3
        if k < 0:
            return 0
        out.data[out.size] = specials.ids[k]
        out.size += 1
        pos = at + specials.sizes[k]


cdef bint _holds_any(Specials tokens, const uint8_t* s, Py_ssize_t n) noexcept nogil:
    """Whether s[:n] holds any of the tokens (one search pass, as for encoding)."""
    cdef Py_ssize_t found[MEMMEM_MAX]
    cdef Py_ssize_t k
    for k in range(MEMMEM_MAX):
        found[k] = -2
    tokens.next_one(s, n, 0, found, &k)
    return k >= 0


cdef int _encode_view(MergeTable table, StrView view, int pattern_id, IdBuffer out,
                      PieceCache cache, Specials specials, Specials refused,
                      Py_ssize_t* ticks) noexcept nogil:
    """_encode_bytes of a str's text, unless it holds one of the refused special tokens
    (None: none are); 1 out of memory, 2 for a surrogate, 3 interrupted, 4 refused (nothing
    appended)."""
    cdef Py_ssize_t n
    cdef const uint8_t* s
    cdef uint8_t* owned = NULL
    cdef size_t capacity
    cdef int failed
    if view.ascii:                            # compact ASCII: the data is UTF-8
        s, n = <const uint8_t*>view.data, view.length
    else:
        owned = str_to_utf8(view.kind, view.data, view.length, &n, &capacity)
        if owned == NULL:
            return 2 if n == -2 else 1
        s = owned
    if refused is not None and _holds_any(refused, s, n):
        failed = 4
    else:
        failed = _encode_bytes(table, s, n, pattern_id, out, cache, specials, ticks)
    if owned != NULL:
        release_utf8(owned, capacity)
    return failed


# --- entry points --------------------------------------------------------------------------

def encode_pieces(MergeTable table, list pieces, IdBuffer out, PieceCache cache):
    """Append the ids of each str piece (pre-tokenized, no special tokens) to out."""
    cdef Py_ssize_t n = len(pieces), i
    cdef vector[const uint8_t*] texts
    cdef vector[Py_ssize_t] sizes
    cdef Py_ssize_t size
    cdef int failed = 0
    cdef CacheLine* line
    cdef CacheSlot* slot
    cdef uint64_t low, high
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
            if sizes[i] == 0:
                continue
            line = NULL
            slot = NULL
            if sizes[i] <= KEY_BYTES:
                load_key(texts[i], sizes[i], texts[i] + sizes[i], &low, &high)
                line = line_of(cache, low, high)
            elif sizes[i] <= CACHE_MAX_BYTES:
                slot = wide_of(cache, texts[i], sizes[i])
            if (out.reserve(sizes[i] + CACHE_MAX_IDS) != 0 or
                    _encode_piece(table, texts[i], sizes[i], texts[i] + sizes[i], out, cache,
                                  line, slot) != 0):
                failed = 1
                break
    if failed:
        raise MemoryError("out of memory while encoding a piece")


def encode_ordinary(MergeTable table, str text, Py_ssize_t limit, int pattern_id,
                    IdBuffer out, PieceCache cache):
    """Append the ids of text's pieces (no special tokens in it) under a native pattern.
    With limit >= 0 only the settled pieces: not the last, and ending by character
    `limit`. Returns the number of characters encoded."""
    check_pattern_id(pattern_id)
    cdef Py_ssize_t n, i
    cdef const uint8_t* s = <const uint8_t*>PyUnicode_AsUTF8AndSize(text, &n)
    cdef Py_ssize_t byte_limit = -1 if limit < 0 else byte_offset(text, s, n, limit)
    cdef Py_ssize_t ticks = WATCH_BLOCKS
    cdef Py_ssize_t* watched = &ticks if watch(n, WATCH_BYTES) else NULL
    if out.reserve(n + CACHE_MAX_IDS) != 0:       # a piece of k bytes has at most k ids
        raise MemoryError("no memory for the ids")
    with nogil:
        i = _encode_span(table, s, 0, n, byte_limit, pattern_id, out, cache, watched)
    if i == -2:
        raise_pending()
    if i < 0:
        raise MemoryError("out of memory while encoding a piece")
    return len(text) if i == n else char_count(text, s, i)


def encode_str(MergeTable table, str text, int pattern_id, IdBuffer out, PieceCache cache,
               Specials specials, Specials refused=None):
    """Append the ids of all of text under a native pattern, where each special token
    becomes its id: the leftmost one found, the longest of those starting there. All of
    it, the UTF-8 encoding of text included, runs without the GIL. False (and nothing
    appended) where text holds one of the `refused` special tokens (tiktoken's check of
    disallowed ones, made here on the UTF-8 rather than on the str); else True.
    UnicodeEncodeError for a surrogate in text."""
    check_pattern_id(pattern_id)
    cdef StrView view = _view(text)
    cdef int failed
    cdef Py_ssize_t ticks = WATCH_BLOCKS
    cdef Py_ssize_t* watched = &ticks if watch(view.length, WATCH_BYTES) else NULL
    with nogil:
        failed = _encode_view(table, view, pattern_id, out, cache, specials, refused, watched)
    if failed == 4:
        return False
    if failed == 3:
        raise_pending()
    if failed == 2:
        raise UnicodeEncodeError("utf-8", text, 0, view.length, "surrogates not allowed")
    if failed:
        raise MemoryError("out of memory while encoding")
    return True


def encode_utf8(MergeTable table, const uint8_t[::1] data, int pattern_id, IdBuffer out,
                PieceCache cache, Specials specials):
    """encode_str for UTF-8 bytes, skipping the str: False (and nothing appended) when
    data is not valid UTF-8 by Python's strict rules."""
    check_pattern_id(pattern_id)
    cdef Py_ssize_t n = data.shape[0]
    cdef const uint8_t* s = &data[0] if n else <const uint8_t*>""
    cdef int failed = 0
    cdef Py_ssize_t ticks = WATCH_BLOCKS
    cdef Py_ssize_t* watched = &ticks if watch(n, WATCH_BYTES) else NULL
    with nogil:
        if not valid_utf8(s, n):
            failed = 2
        else:
            failed = _encode_bytes(table, s, n, pattern_id, out, cache, specials, watched)
    if failed == 3:
        raise_pending()
    if failed == 1:
        raise MemoryError("out of memory while encoding")
    return failed == 0


def encode_strs(MergeTable table, texts, int pattern_id, PieceCache cache, Specials specials,
                ints, Specials refused=None):
    """encode_str of each text, as lists of the shared ints (see IdBuffer.to_list), in one
    GIL-free pass over them all: the GIL is held only to make the lists. None for a text
    left to the caller: not a str, holding a surrogate, or holding one of the `refused`
    special tokens (encode_str's check). The lists are not tracked by the
    garbage collector: the caller tracks them (_ids.track_lists) once all of a batch's
    lists are made, so that no collection meanwhile walks them."""
    check_pattern_id(pattern_id)
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
    cdef Py_ssize_t total = 0, ticks = WATCH_BLOCKS
    for k in range(n):
        if PyUnicode_Check(held[k]):
            views[k] = _view(held[k])
            total += views[k].length
        else:
            skipped[k] = 1
    cdef Py_ssize_t* watched = &ticks if watch(total, WATCH_BYTES) else NULL
    with nogil:
        for k in range(n):
            start = out.size
            if not skipped[k]:
                failed = _encode_view(table, views[k], pattern_id, out, cache, specials,
                                      refused, watched)
                if failed == 2 or failed == 4:  # a surrogate, a refused special token:
                    out.size = start            # the caller's slow path
                    skipped[k] = 1
                    failed = 0
                elif failed:
                    break
            ends[k] = out.size
    if failed == 3:
        raise_pending()
    if failed:
        raise MemoryError("out of memory while encoding")
    result = PyList_New(n)
    for k in range(n):
        if skipped[k]:
            item = None
        else:
            item = PyList_New(0)                # fill_lists gives it its items
            PyObject_GC_UnTrack(item)
        Py_INCREF(item)
        PyList_SET_ITEM(result, k, item)
    fill_lists(result, out.data, ends.data(), skipped.data(), ints)
    return result
