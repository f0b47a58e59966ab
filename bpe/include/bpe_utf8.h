/* UTF-8 in both directions: a str's code points to UTF-8 (encode), and UTF-8 checked as
   Python's strict decoder takes it and widened to a str's code points (decode). ASCII goes
   sixteen characters at a time (SSE2 where present, else 8-byte words). */
#ifndef BPE_UTF8_H
#define BPE_UTF8_H

#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* --- decode: UTF-8 to code points --------------------------------------------- */

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

/* --- encode: code points to UTF-8 --------------------------------------------- */

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

#endif
