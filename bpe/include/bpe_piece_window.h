/* GPT-2's pre-tokenizer over ASCII text, 54 bytes at a time (see bpe/_pretokenize.pxd). */
#ifndef BPE_PIECE_WINDOW_H
#define BPE_PIECE_WINDOW_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "bpe_unicode_tables.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BPE_LITTLE_ENDIAN 1
#else
#define BPE_LITTLE_ENDIAN 0
#endif

/* GPT-2's pieces of ASCII text, 54 bytes at a time (a PieceWindow), as a bitmap of
   where pieces start. Over ASCII the pattern's pieces start where the class (letter,
   number, whitespace, other) changes, with three exceptions, each decided by the
   bytes around it alone:
     - a space before a letter, number or other joins it (' ?\\p{L}+', ...): the
       piece starts at the space, not after it;
     - a run of whitespace followed by a letter, number or other gives back its last
       character (\\s+(?!\\S)): a piece starts there too;
     - at an apostrophe that starts a piece, 's 'd 'm 't 'll 've 're are a piece.
   So the starts inside a window follow from its bytes and eight before it, and
   scanning may switch between a window and gpt2_piece at any piece start. A window
   holding a byte past ASCII is not made: gpt2_piece does those pieces. */
#if defined(__SSE2__)
#include <emmintrin.h>
#define BPE_PIECE_WINDOWS 1
#else
#define BPE_PIECE_WINDOWS 0
#endif

typedef struct {
    Py_ssize_t lo, hi;      /* bits holds the piece starts in [lo, hi) ... */
    Py_ssize_t base;        /* ... bit k for byte base + k (base = lo - 8) */
    uint64_t bits;
    Py_ssize_t retry;       /* no window starts before this: a byte past ASCII */
} PieceWindow;

/* Whether the generated tables class ASCII as the windows do (they come from the
   installed regex module, which could one day differ): else no window is made. */
static inline int bpe_ascii_as_windows(void) {
    static int checked = -1;
    if (checked < 0) {
        int ok = 1, c;
        for (c = 0; c < 128; c++) {
            int letter = (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
            int number = c >= '0' && c <= '9';
            int space = (c >= 9 && c <= 13) || c == ' ';
            int want = (letter ? CLASS_LETTER : 0) | (number ? CLASS_NUMBER : 0)
                       | (space ? CLASS_SPACE : 0);
            if ((unicode_stage2[0][c] & (CLASS_LETTER | CLASS_NUMBER | CLASS_SPACE)) != want)
                ok = 0;
        }
        checked = ok;
    }
    return checked;
}

#if BPE_PIECE_WINDOWS
/* Bit masks of 16 bytes: letters, numbers, whitespace, spaces, apostrophes, past ASCII. */
static inline void bpe_classes16(const uint8_t* p, int k, uint64_t* letter, uint64_t* number,
                                 uint64_t* white, uint64_t* space, uint64_t* quote,
                                 uint64_t* high) {
    __m128i v = _mm_loadu_si128((const __m128i*)p);
    __m128i x = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
    __m128i is_letter = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(25)), x);
    __m128i y = _mm_sub_epi8(v, _mm_set1_epi8('0'));
    __m128i is_number = _mm_cmpeq_epi8(_mm_min_epu8(y, _mm_set1_epi8(9)), y);
    __m128i z = _mm_sub_epi8(v, _mm_set1_epi8(9));
    __m128i is_space = _mm_cmpeq_epi8(v, _mm_set1_epi8(' '));
    __m128i is_white = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(z, _mm_set1_epi8(4)), z), is_space);
    *letter |= (uint64_t)(uint32_t)_mm_movemask_epi8(is_letter) << k;
    *number |= (uint64_t)(uint32_t)_mm_movemask_epi8(is_number) << k;
    *white |= (uint64_t)(uint32_t)_mm_movemask_epi8(is_white) << k;
    *space |= (uint64_t)(uint32_t)_mm_movemask_epi8(is_space) << k;
    *quote |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(39))) << k;
    *high |= (uint64_t)(uint32_t)_mm_movemask_epi8(v) << k;
}
#endif

/* Make w the window whose settled range starts at lo (start <= lo <= end), for the
   piece starts of s[start:end]; 0 where a byte past ASCII is in it (w then has no
   window, and its retry is past that byte's reach). */
static inline int bpe_gpt2_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start,
                                  Py_ssize_t end, PieceWindow* w) {
#if BPE_PIECE_WINDOWS
    Py_ssize_t base = lo - 8, k;
    const uint8_t* p = s + base;
    uint8_t copy[64];
    uint64_t letter = 0, number = 0, white = 0, space = 0, quote = 0, high = 0;
    uint64_t inside, other, same, starts, joined, gives_back, at_quote;
    if (!bpe_ascii_as_windows())
        return 0;
    if (base < 0 || base + 64 > end) {     /* past the readable bytes: a zeroed copy */
        Py_ssize_t from = base < 0 ? 0 : base, to = base + 64 < end ? base + 64 : end;
        memset(copy, 0, 64);
        memcpy(copy + (from - base), s + from, to - from);
        p = copy;
    }
    for (k = 0; k < 64; k += 16)
        bpe_classes16(p + k, (int)k, &letter, &number, &white, &space, &quote, &high);
    /* the bytes of s[start:end] in the window */
    inside = ~0ULL;
    if (start > base) inside &= ~0ULL << (start - base);
    if (end - base < 64) inside &= (1ULL << (end - base)) - 1;
    if (high & inside) {
        w->lo = w->hi = 0;
        w->retry = base + (63 - __builtin_clzll(high & inside)) + 9;
        return 0;
    }
    letter &= inside; number &= inside; white &= inside; space &= inside; quote &= inside;
    other = inside & ~(letter | number | white);
    same = (letter & (letter << 1)) | (number & (number << 1)) | (other & (other << 1))
           | (white & (white << 1));
    joined = (space << 1) & (letter | number | other);
    gives_back = white & ((letter | number | other) >> 1);
    starts = (inside & ~same & ~joined) | gives_back;
    at_quote = starts & quote;
    while (at_quote) {                     /* contractions */
        Py_ssize_t q = __builtin_ctzll(at_quote), n = 0;
        uint8_t a, b;                      /* past end: zero (the copy's) */
        at_quote &= at_quote - 1;
        if (q + 3 >= 64)
            continue;                      /* it changes only bits past the settled 61 */
        a = p[q + 1];
        b = p[q + 2];
        if (a == 's' || a == 'd' || a == 'm' || a == 't')
            n = 2;
        else if ((a == 'l' && b == 'l') || (a == 'v' && b == 'e') || (a == 'r' && b == 'e'))
            n = 3;
        if (n) {
            starts &= ~(((1ULL << (n - 1)) - 1) << (q + 1));
            starts |= 1ULL << (q + n);
        }
    }
    if (end - base < 64)
        starts |= 1ULL << (end - base);    /* the last piece ends at end */
    /* settled: bits 8 to 61 (each rule reads at most 3 bytes before a bit, 1 after) */
    w->lo = lo;
    w->hi = lo + 54 < end + 1 ? lo + 54 : end + 1;
    w->base = base;
    w->bits = starts & (~0ULL << 8) & ((1ULL << (w->hi - base)) - 1);
    return 1;
#else
    (void)s; (void)lo; (void)start; (void)end; (void)w;
    return 0;
#endif
}

#endif
