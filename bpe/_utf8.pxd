"""UTF-8 as Python's strict decoder takes it: checked, and turned into a str directly.

Decode's str is made here rather than by PyUnicode_DecodeUTF8, so that it exists before it
is written: a text with one emoji is a str of 4 bytes a character, 40 MB for 10 MB of text,
and on 4 KB pages that is ten thousand page faults, more than the decoding costs; its pages
are asked to be huge first. One pass finds the str's kind (its largest character follows
from the largest byte) and length (the bytes that are not continuation bytes); a second
fills it, sixteen ASCII bytes at a time, checking every sequence. Bytes that are not UTF-8
get None, and the caller's decoder with its error handler.
"""
from libc.stdint cimport uint8_t
from libc.string cimport memcpy

from bpe._memory cimport HUGE_FROM, bpe_advise_huge

cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void* PyUnicode_DATA(object text)

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #ifdef __SSE2__
    #include <emmintrin.h>
    #endif
    /* Sixteen ASCII bytes at s, widened to characters of T at out: false if they are not
       all ASCII (nothing is written then). */
    template <typename T>
    static inline bool bpe_ascii16(const uint8_t* s, T* out) {
    #ifdef __SSE2__
        __m128i bytes = _mm_loadu_si128((const __m128i*)s);
        if (_mm_movemask_epi8(bytes))
            return false;
        if (sizeof(T) == 1) {
            _mm_storeu_si128((__m128i*)out, bytes);
            return true;
        }
        __m128i zero = _mm_setzero_si128();
        __m128i low = _mm_unpacklo_epi8(bytes, zero), high = _mm_unpackhi_epi8(bytes, zero);
        if (sizeof(T) == 2) {
            _mm_storeu_si128((__m128i*)out, low);
            _mm_storeu_si128((__m128i*)(out + 8), high);
        } else {
            _mm_storeu_si128((__m128i*)out, _mm_unpacklo_epi16(low, zero));
            _mm_storeu_si128((__m128i*)(out + 4), _mm_unpackhi_epi16(low, zero));
            _mm_storeu_si128((__m128i*)(out + 8), _mm_unpacklo_epi16(high, zero));
            _mm_storeu_si128((__m128i*)(out + 12), _mm_unpackhi_epi16(high, zero));
        }
        return true;
    #else
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        if ((a | b) & 0x8080808080808080ULL)
            return false;
        for (int j = 0; j < 16; j++)
            out[j] = (T)s[j];
        return true;
    #endif
    }
    /* The number of characters in s[:n] if it is UTF-8 as Python's strict decoder takes
       it (shortest forms only, no surrogates, nothing past U+10FFFF), written to out
       when Write; else -1. Each character written stands for one byte that is not a
       continuation byte, so out needs room for no more than those. */
    template <typename T, bool Write>
    static inline Py_ssize_t bpe_utf8_decode(const uint8_t* s, Py_ssize_t n, T* out) {
        Py_ssize_t i = 0, k = 0;
        while (i < n) {
            if (Write && i + 16 <= n && bpe_ascii16(s + i, out + k)) {
                i += 16;
                k += 16;
                continue;
            }
            if (i + 8 <= n) {
                uint64_t word;
                memcpy(&word, s + i, 8);
                if (!(word & 0x8080808080808080ULL)) {      /* eight ASCII bytes */
                    if (Write)
                        for (int j = 0; j < 8; j++)
                            out[k + j] = (T)s[i + j];
                    i += 8;
                    k += 8;
                    continue;
                }
            }
            uint32_t c = s[i];
            if (c < 0x80) {
                i += 1;
            } else if (c >= 0xC2 && c <= 0xDF) {
                if (i + 1 >= n || (s[i + 1] & 0xC0) != 0x80)
                    return -1;
                c = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F);
                i += 2;
            } else if (c >= 0xE0 && c <= 0xEF) {
                if (i + 2 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80
                        || (c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0))
                    return -1;
                c = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
                i += 3;
            } else if (c >= 0xF0 && c <= 0xF4) {
                if (i + 3 >= n || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80
                        || (s[i + 3] & 0xC0) != 0x80 || (c == 0xF0 && s[i + 1] < 0x90)
                        || (c == 0xF4 && s[i + 1] >= 0x90))
                    return -1;
                c = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6)
                    | (s[i + 3] & 0x3F);
                i += 4;
            } else {
                return -1;
            }
            if (Write)
                out[k] = (T)c;
            k += 1;
        }
        return k;
    }
    static inline Py_ssize_t bpe_utf8_check(const uint8_t* s, Py_ssize_t n) {
        return bpe_utf8_decode<uint8_t, false>(s, n, NULL);
    }
    static inline Py_ssize_t bpe_utf8_to_ucs1(const uint8_t* s, Py_ssize_t n, void* out) {
        return bpe_utf8_decode<uint8_t, true>(s, n, (uint8_t*)out);
    }
    static inline Py_ssize_t bpe_utf8_to_ucs2(const uint8_t* s, Py_ssize_t n, void* out) {
        return bpe_utf8_decode<uint16_t, true>(s, n, (uint16_t*)out);
    }
    static inline Py_ssize_t bpe_utf8_to_ucs4(const uint8_t* s, Py_ssize_t n, void* out) {
        return bpe_utf8_decode<uint32_t, true>(s, n, (uint32_t*)out);
    }
    /* The largest byte of s[:n] and the number of continuation bytes (10xxxxxx). */
    static inline uint8_t bpe_utf8_scan(const uint8_t* s, Py_ssize_t n, Py_ssize_t* continuations) {
        uint8_t top = 0;
        Py_ssize_t count = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            top = s[i] > top ? s[i] : top;
            count += (s[i] & 0xC0) == 0x80;
        }
        *continuations = count;
        return top;
    }
    """
    Py_ssize_t bpe_utf8_check(const uint8_t* s, Py_ssize_t n) nogil
    Py_ssize_t bpe_utf8_to_ucs1(const uint8_t* s, Py_ssize_t n, void* out) nogil
    Py_ssize_t bpe_utf8_to_ucs2(const uint8_t* s, Py_ssize_t n, void* out) nogil
    Py_ssize_t bpe_utf8_to_ucs4(const uint8_t* s, Py_ssize_t n, void* out) nogil
    uint8_t bpe_utf8_scan(const uint8_t* s, Py_ssize_t n, Py_ssize_t* continuations) nogil


cdef inline bint valid_utf8(const uint8_t* s, Py_ssize_t n) noexcept nogil:
    """Whether s[:n] is UTF-8 as Python's strict decoder takes it."""
    return bpe_utf8_check(s, n) >= 0


cdef inline object utf8_to_str(const uint8_t* s, Py_ssize_t n):
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
    if width * (n - continuations) >= HUGE_FROM:
        bpe_advise_huge(data, width * (n - continuations))   # a fault per 2 MB, not 4 KB
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
