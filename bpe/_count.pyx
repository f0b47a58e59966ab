# cython: language_level=3
"""Piece counting for training: pieces straight out of the native pre-tokenizer into a
hash table keyed by their bytes, then out as a WordTable's arrays.

No Python string is made per piece: the counter reads the UTF-8 of each settled stretch of
text and walks its pieces with `piece_end`. The regex fallback (custom patterns) hands
lists of str pieces to `add` instead.
"""
import numpy as np

cimport numpy as cnp
from cpython.unicode cimport PyUnicode_Check
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcmp, memcpy
from libcpp.vector cimport vector

from bpe._hashing cimport hash_bytes
from bpe._utf8 cimport valid_utf8
from bpe._pretokenize cimport (PieceWindow, byte_offset, char_count, check_pattern_id,
                               no_window, piece_end)

cnp.import_array()

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL

cdef extern from "bpe_vectors.h" nogil:
    int bpe_append_piece(vector[uint8_t]& text, vector[int64_t]& starts, vector[int64_t]& counts,
                         vector[uint64_t]& hashes, const uint8_t* s, Py_ssize_t n,
                         int64_t count, uint64_t h) nogil
    int bpe_empty_slots(vector[int32_t]& slots, size_t n) nogil


cdef class PieceCounter:
    """{piece bytes: count}, in C."""
    cdef vector[uint8_t] text            # every distinct piece, back to back
    cdef vector[int64_t] starts          # piece k is text[starts[k]:starts[k + 1]]
    cdef vector[int64_t] counts
    cdef vector[uint64_t] hashes
    cdef vector[int32_t] slots           # open addressing: piece index or -1
    cdef uint64_t mask

    def __cinit__(self):
        self.slots.resize(1 << 16, -1)     # (assign is declared without except +)
        self.mask = (1 << 16) - 1
        self.starts.push_back(0)

    def __len__(self):
        return self.counts.size()

    cdef int grow(self) noexcept nogil:
        """Double the slots; -1 when out of memory (the table stays as it was)."""
        cdef size_t k, capacity = self.slots.size() * 2
        cdef uint64_t i
        if bpe_empty_slots(self.slots, capacity) != 0:
            return -1
        self.mask = capacity - 1
        for k in range(self.counts.size()):
            i = self.hashes[k] & self.mask
            while self.slots[i] >= 0:
                i = (i + 1) & self.mask
            self.slots[i] = <int32_t>k
        return 0

    cdef inline int add_piece(self, const uint8_t* s, Py_ssize_t n, int64_t count) noexcept nogil:
        """Count a piece; -1 when out of memory (it may then be counted or not)."""
        cdef uint64_t h = hash_bytes(s, n)
        cdef uint64_t i = h & self.mask
        cdef int32_t k
        while True:
            k = self.slots[i]
            if k < 0:
                break
            if (self.hashes[k] == h and self.starts[k + 1] - self.starts[k] == n
                    and memcmp(&self.text[self.starts[k]], s, n) == 0):
                self.counts[k] += count
                return 0
            i = (i + 1) & self.mask
        k = <int32_t>self.counts.size()
        if bpe_append_piece(self.text, self.starts, self.counts, self.hashes, s, n, count, h) != 0:
            return -1
        self.slots[i] = k
        if 2 * self.counts.size() > self.slots.size():
            return self.grow()
        return 0

    def count_text(self, str text, Py_ssize_t limit, int pattern_id):
        """Count the pieces of text (no special tokens in it). With limit >= 0 count only the
        settled ones: not the last, and ending by character `limit`. Returns the number of
        characters counted."""
        check_pattern_id(pattern_id)
        cdef Py_ssize_t n, i = 0, j, byte_limit
        cdef const uint8_t* s = <const uint8_t*>PyUnicode_AsUTF8AndSize(text, &n)
        cdef int failed = 0
        cdef PieceWindow window
        no_window(&window)
        byte_limit = n if limit < 0 else byte_offset(text, s, n, limit)
        with nogil:
            while i < n:
                j = piece_end(s, i, n, pattern_id, &window)
                if limit >= 0 and (j > byte_limit or j == n):
                    break
                if self.add_piece(s + i, j - i, 1) != 0:
                    failed = 1
                    break
                i = j
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
        cdef Py_ssize_t n = data.shape[0], k, i, j, stop
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
                while i < stop:
                    j = piece_end(s, i, stop, pattern_id, &window)
                    if self.add_piece(s + i, j - i, 1) != 0:
                        failed = 1
                        break
                    i = j
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
            if n and self.add_piece(s, n, 1) != 0:
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
        with nogil:
            for k in range(n_words):
                if self.add_piece(&text[offsets[k]], offsets[k + 1] - offsets[k], counts[k]) != 0:
                    failed = 1
                    break
        if failed:
            raise MemoryError("out of memory while adding counts")

    def byte_arrays(self):
        """(text uint8, offsets int64, counts int64): the counted pieces, compactly (what a
        worker sends back)."""
        cdef size_t n_words = self.counts.size(), total = self.text.size()
        text = np.empty(total, dtype=np.uint8)
        offsets = np.asarray(<int64_t[:n_words + 1]>self.starts.data()).copy()
        counts = np.asarray(<int64_t[:n_words]>self.counts.data()).copy() if n_words else np.zeros(0, np.int64)
        cdef uint8_t[::1] view = text
        if total:
            memcpy(&view[0], self.text.data(), total)
        return text, offsets, counts

    def arrays(self):
        """(symbols int32, offsets int64, counts int64): the WordTable of the counted pieces."""
        cdef size_t n_words = self.counts.size(), total = self.text.size()
        symbols = np.empty(total, dtype=np.int32)
        offsets = np.empty(n_words + 1, dtype=np.int64)
        counts = np.empty(n_words, dtype=np.int64)
        cdef int32_t[::1] sym = symbols
        cdef int64_t[::1] off = offsets, cnt = counts
        cdef size_t k
        for k in range(total):
            sym[k] = self.text[k]
        for k in range(n_words + 1):
            off[k] = self.starts[k]
        for k in range(n_words):
            cnt[k] = self.counts[k]
        return symbols, offsets, counts
