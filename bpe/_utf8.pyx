# cython: language_level=3
"""UTF-8 in both directions, as Python's strict codec takes it.

- `str_to_utf8`: a str's code points (1, 2 or 4 bytes each) to UTF-8, for the encode
  kernels, without the GIL and without a bytes object; sixteen ASCII characters at a time.
  The buffer is the thread's spare (see include/bpe_spare.h): give it back with
  `release_utf8`.
- `valid_utf8`: whether bytes are UTF-8 as Python's strict decoder takes it.
- `find_listed`: the first character of a str in a set given as a bitmap of code points
  (Hugging Face normalizers' look for the few characters their tables do not know).
- `utf8_to_str`: decode's str, made here rather than by PyUnicode_DecodeUTF8 so that it
  exists before it is written: a text with one emoji is a str of 4 bytes a character, 40 MB
  for 10 MB of text, and on 4 KB pages that is ten thousand page faults, more than the
  decoding costs; its pages are asked to be huge first. One pass finds the str's kind (its
  largest character follows from the largest byte) and length (the bytes that are not
  continuation bytes); a second fills it, sixteen ASCII bytes at a time, checking every
  sequence. Bytes that are not UTF-8 get None, and the caller's decoder with its error
  handler.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy

from bpe._memory cimport HUGE_FROM, bpe_advise_huge, buffer_free, buffer_reserve

cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void* PyUnicode_DATA(object text)
    int PyUnicode_KIND(object text)
    Py_UCS4 PyUnicode_READ(int kind, const void* data, Py_ssize_t index) nogil

cdef extern from "bpe_utf8.h" nogil:
    Py_ssize_t bpe_utf8_check(const uint8_t* s, Py_ssize_t n)
    Py_ssize_t bpe_utf8_to_ucs1(const uint8_t* s, Py_ssize_t n, void* out)
    Py_ssize_t bpe_utf8_to_ucs2(const uint8_t* s, Py_ssize_t n, void* out)
    Py_ssize_t bpe_utf8_to_ucs4(const uint8_t* s, Py_ssize_t n, void* out)
    uint8_t bpe_utf8_scan(const uint8_t* s, Py_ssize_t n, Py_ssize_t* continuations)
    bint bpe_ascii16_u8(const uint8_t* src, uint8_t* dst)
    bint bpe_ascii16_u16(const uint16_t* src, uint8_t* dst)
    bint bpe_ascii16_u32(const uint32_t* src, uint8_t* dst)

cdef extern from "bpe_spare.h" nogil:
    enum: BPE_SPARE_TEXT
    void* bpe_take_spare(int kind, size_t* capacity)
    void bpe_give_spare(int kind, void* data, size_t capacity)


def find_listed(str text, const uint8_t[::1] listed, Py_ssize_t start=0):
    """The index of the first character of text at or after `start` whose code point c is
    listed (bit c % 8 of byte c // 8 of `listed` is set), or -1. A scan of a few ms for
    megabytes, where a regex character class takes a hundred."""
    cdef int kind = PyUnicode_KIND(text)
    cdef const void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t n = len(text), i, found = -1
    cdef uint32_t c, limit = <uint32_t>(listed.shape[0] * 8)
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    with nogil:
        for i in range(start, n):
            c = <uint32_t>PyUnicode_READ(kind, data, i)
            if c < limit and (listed[c >> 3] >> (c & 7)) & 1:
                found = i
                break
    return found


cdef bint valid_utf8(const uint8_t* s, Py_ssize_t n) noexcept nogil:
    """Whether s[:n] is UTF-8 as Python's strict decoder takes it."""
    return bpe_utf8_check(s, n) >= 0


cdef object utf8_to_str(const uint8_t* s, Py_ssize_t n):
    """The str of s[:n], or None when s[:n] is not valid UTF-8. The str is of the kind
    Python would make (the narrowest that holds its largest character): valid UTF-8 whose
    largest byte is below 0x80 is ASCII, below 0xC4 holds a character in U+0080..U+00FF,
    below 0xF0 one in U+0100..U+FFFF (a lead byte), else one past U+FFFF."""
    cdef Py_ssize_t continuations, got
    cdef uint8_t top
    if n == 0:
        return ""
    with nogil:
        top = bpe_utf8_scan(s, n, &continuations)
    cdef int width = 1 if top < 0xC4 else 2 if top < 0xF0 else 4
    text = PyUnicode_New(n - continuations, 0x7F if top < 0x80 else 0xFF if width == 1
                         else 0xFFFF if width == 2 else 0x10FFFF)
    cdef void* data = PyUnicode_DATA(text)
    cdef size_t n_bytes = <size_t>(width * (n - continuations))
    if n_bytes >= HUGE_FROM:
        bpe_advise_huge(data, n_bytes)     # a fault per 2 MB, not 4 KB
    if top < 0x80:
        memcpy(data, s, n)
        return text
    with nogil:
        if width == 1:
            got = bpe_utf8_to_ucs1(s, n, data)
        elif width == 2:
            got = bpe_utf8_to_ucs2(s, n, data)
        else:
            got = bpe_utf8_to_ucs4(s, n, data)
    return text if got == n - continuations else None


cdef uint8_t* str_to_utf8(int kind, const void* data, Py_ssize_t length, Py_ssize_t* n,
                          size_t* capacity) noexcept nogil:
    """A str's code points (kind: 1, 2 or 4 bytes each) as UTF-8 in the thread's spare
    text buffer (grown as needed; give it back with release_utf8 and its capacity), the
    UTF-8 size in n. NULL with n = -2 for a surrogate (not encodable), n = -1 out of
    memory."""
    cdef size_t needed = length * (2 if kind == 1 else kind + 1) + 1
    cdef void* out = bpe_take_spare(BPE_SPARE_TEXT, capacity)
    cdef Py_ssize_t at
    n[0] = -1
    if buffer_reserve(&out, capacity, 0, needed) != 0:
        buffer_free(out, capacity[0])
        return NULL
    if kind == 1:
        at = _utf8_of(<const uint8_t*>data, length, <uint8_t*>out)
    elif kind == 2:
        at = _utf8_of(<const uint16_t*>data, length, <uint8_t*>out)
    else:
        at = _utf8_of(<const uint32_t*>data, length, <uint8_t*>out)
    if at < 0:
        release_utf8(<uint8_t*>out, capacity[0])
        n[0] = -2
        return NULL
    n[0] = at
    return <uint8_t*>out


cdef void release_utf8(uint8_t* data, size_t capacity) noexcept nogil:
    """Give back str_to_utf8's buffer: it becomes the thread's spare again."""
    bpe_give_spare(BPE_SPARE_TEXT, data, capacity)


ctypedef fused code_unit:
    uint8_t
    uint16_t
    uint32_t


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


cdef inline Py_ssize_t _put_utf8(uint8_t* out, Py_ssize_t at, uint32_t c) noexcept nogil:
    """Write the character c (not ASCII, not a surrogate) as UTF-8 at out[at]; past it."""
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
