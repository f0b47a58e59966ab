# cython: language_level=3
"""Python access to the native pre-tokenizer whose matcher lives in _pretokenize.pxd.

`pieces(text, pattern_id)` makes the Python strings `regex.findall` would (for tests and for
callers that want pieces); the encode and count kernels call the matcher directly and make
no strings at all.
"""
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport uint8_t, uint64_t

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL
    bint PyUnicode_IS_ASCII(object text)

PATTERN_IDS = {"gpt2": PATTERN_GPT2, "cl100k": PATTERN_CL100K, "o200k": PATTERN_O200K,
               "llama3": PATTERN_LLAMA3, "qwen2": PATTERN_QWEN2,
               "deepseek_v3": PATTERN_DEEPSEEK_V3}


def pieces(str text, int pattern_id, bint windows=True):
    """The pieces of text under the named pattern (its id from PATTERN_IDS). windows=False
    keeps the matcher off the ASCII windows (piece_end), as on a machine without them."""
    check_pattern_id(pattern_id)
    cdef Py_ssize_t n, i = 0, j
    cdef const uint8_t* s = <const uint8_t*>PyUnicode_AsUTF8AndSize(text, &n)
    cdef PieceWindow window
    no_window(&window)
    out = []
    while i < n:
        j = piece_end(s, i, n, pattern_id, &window) if windows else next_piece(s, i, n, pattern_id)
        out.append(PyUnicode_DecodeUTF8(<const char*>s + i, j - i, NULL))
        i = j
    return out


cdef Py_ssize_t piece_end_past(const uint8_t* s, Py_ssize_t i, Py_ssize_t end, int pattern,
                               PieceWindow* w) noexcept nogil:
    """piece_end where the next start is not in the current window: in the windows after
    it, made here, or by next_piece where none can be made. A window reads the text from
    the piece start i on (start=i): no pattern looks behind, so the pieces after i follow
    from s[i:] alone, where the bytes before i could read as the tail of another piece (an
    apostrophe that a contraction took, newlines a punctuation run ate)."""
    cdef Py_ssize_t at = i + 1
    cdef uint64_t later
    if w.lo <= at < w.hi:
        at = w.hi                              # the piece goes on past the window
    while True:
        if at < w.retry or not make_window(s, at, i, end, pattern, w):
            return next_piece(s, i, end, pattern)
        later = w.bits >> (at - w.base)
        if later:
            return at + __builtin_ctzll(later)
        at = w.hi


cdef Py_ssize_t byte_offset(str text, const uint8_t* s, Py_ssize_t n_bytes, Py_ssize_t n_chars) noexcept:
    """Where character n_chars of text starts in its UTF-8 form s."""
    if PyUnicode_IS_ASCII(text):
        return n_chars
    cdef Py_ssize_t i = 0, seen = 0
    while i < n_bytes:
        if (s[i] & 0xC0) != 0x80:
            if seen == n_chars:
                return i
            seen += 1
        i += 1
    return n_bytes


cdef Py_ssize_t char_count(str text, const uint8_t* s, Py_ssize_t n_bytes) noexcept:
    """How many characters the first n_bytes of text's UTF-8 form s hold."""
    if PyUnicode_IS_ASCII(text):
        return n_bytes
    cdef Py_ssize_t i, count = 0
    for i in range(n_bytes):
        count += (s[i] & 0xC0) != 0x80
    return count


def windows_work():
    """Whether the ASCII windows run here (SSE2, and the tables class ASCII as they do)."""
    return BPE_PIECE_WINDOWS and bpe_ascii_as_windows()


def count(str text, int pattern_id):
    """How many pieces text has (pre-tokenization alone, for benchmarks)."""
    check_pattern_id(pattern_id)
    cdef Py_ssize_t n, i = 0, n_pieces = 0
    cdef const uint8_t* s = <const uint8_t*>PyUnicode_AsUTF8AndSize(text, &n)
    cdef PieceWindow window
    no_window(&window)
    with nogil:
        while i < n:
            i = piece_end(s, i, n, pattern_id, &window)
            n_pieces += 1
    return n_pieces
