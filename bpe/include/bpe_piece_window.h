/* The pre-tokenizers of GPT-2, cl100k, o200k, Llama 3, Qwen 2 and DeepSeek V3 over ASCII
   text, 54 bytes at a time (see bpe/_pretokenize.pxd). */
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
            int upper = c >= 'A' && c <= 'Z';
            int punct = c > ' ' && c < 127 && !letter && !number;
            int want = (letter ? CLASS_LETTER : 0) | (number ? CLASS_NUMBER : 0)
                       | (space ? CLASS_SPACE : 0) | (upper ? CLASS_UPPERISH : 0)
                       | (letter && !upper ? CLASS_LOWERISH : 0)
                       | (punct ? CLASS_PUNCT_SYMBOL : 0);
            if ((unicode_stage2[0][c] & (CLASS_LETTER | CLASS_NUMBER | CLASS_SPACE
                                         | CLASS_UPPERISH | CLASS_LOWERISH
                                         | CLASS_PUNCT_SYMBOL | CLASS_MARK)) != want)
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

/* The 64 bytes a window at lo reads, s[lo - 8 : lo + 56]: in place, or through copy
   (zeroed past the readable bytes); *inside: which of them are in s[start:end]. */
static inline const uint8_t* bpe_window_bytes(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start,
                                              Py_ssize_t end, uint8_t copy[64],
                                              uint64_t* inside) {
    Py_ssize_t base = lo - 8;
    const uint8_t* p = s + base;
    if (base < 0 || base + 64 > end) {
        Py_ssize_t from = base < 0 ? 0 : base, to = base + 64 < end ? base + 64 : end;
        memset(copy, 0, 64);
        memcpy(copy + (from - base), s + from, to - from);
        p = copy;
    }
    *inside = ~0ULL;
    if (start > base) *inside &= ~0ULL << (start - base);
    if (end - base < 64) *inside &= (1ULL << (end - base)) - 1;
    return p;
}

/* No window at lo: w has none, and none is tried again before retry. Returns 0. */
static inline int bpe_no_window_until(PieceWindow* w, Py_ssize_t retry) {
    w->lo = w->hi = 0;
    w->retry = retry;
    return 0;
}

/* Settle w: the piece starts in bits 8 .. (at most) 61 of a window at lo, up to bit
   limit (exclusive; bits from limit on depend on bytes past the window); the last piece
   ends at end. Returns 1, or 0 (no window until past it) when nothing would be settled. */
static inline int bpe_settle(PieceWindow* w, Py_ssize_t lo, Py_ssize_t end, uint64_t starts,
                             int limit) {
    Py_ssize_t base = lo - 8;
    if (end - base < 64)
        starts |= 1ULL << (end - base);    /* the last piece ends at end */
    w->hi = lo + 54 < end + 1 ? lo + 54 : end + 1;
    if (w->hi > base + limit) w->hi = base + limit;
    if (w->hi <= lo)
        return bpe_no_window_until(w, base + 64);
    w->lo = lo;
    w->base = base;
    w->bits = starts & (~0ULL << 8) & ((1ULL << (w->hi - base)) - 1);
    return 1;
}

/* Make w the window whose settled range starts at lo (start <= lo <= end), for the
   piece starts of s[start:end]; 0 where a byte past ASCII is in it (w then has no
   window, and its retry is past that byte's reach). */
static inline int bpe_gpt2_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start,
                                  Py_ssize_t end, PieceWindow* w) {
#if BPE_PIECE_WINDOWS
    Py_ssize_t base = lo - 8, k;
    uint8_t copy[64];
    uint64_t letter = 0, number = 0, white = 0, space = 0, quote = 0, high = 0;
    uint64_t inside, other, same, starts, joined, gives_back, at_quote;
    const uint8_t* p;
    if (!bpe_ascii_as_windows())
        return 0;
    p = bpe_window_bytes(s, lo, start, end, copy, &inside);
    for (k = 0; k < 64; k += 16)
        bpe_classes16(p + k, (int)k, &letter, &number, &white, &space, &quote, &high);
    if (high & inside)
        return bpe_no_window_until(w, base + (63 - __builtin_clzll(high & inside)) + 9);
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
    /* settled: bits 8 to 61 (each rule reads at most 3 bytes before a bit, 1 after) */
    return bpe_settle(w, lo, end, starts, 64);
#else
    (void)s; (void)lo; (void)start; (void)end; (void)w;
    return 0;
#endif
}

#if BPE_PIECE_WINDOWS
/* The classes of a window's 64 bytes that cl100k's and o200k's rules read, as bit masks. */
typedef struct {
    uint64_t letter, upper, number, white, newline, space, quote, slash, control, high;
} BpeClasses;

static inline void bpe_classes64(const uint8_t* p, BpeClasses* c) {
    int k;
    memset(c, 0, sizeof(*c));
    for (k = 0; k < 64; k += 16) {
        __m128i v = _mm_loadu_si128((const __m128i*)(p + k));
        __m128i x = _mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
        __m128i u = _mm_sub_epi8(v, _mm_set1_epi8('A'));
        __m128i y = _mm_sub_epi8(v, _mm_set1_epi8('0'));
        __m128i z = _mm_sub_epi8(v, _mm_set1_epi8(9));
        __m128i is_space = _mm_cmpeq_epi8(v, _mm_set1_epi8(' '));
        __m128i is_newline = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')),
                                          _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
#define BPE_BITS(m) ((uint64_t)(uint32_t)_mm_movemask_epi8(m) << k)
        c->letter |= BPE_BITS(_mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(25)), x));
        c->upper |= BPE_BITS(_mm_cmpeq_epi8(_mm_min_epu8(u, _mm_set1_epi8(25)), u));
        c->number |= BPE_BITS(_mm_cmpeq_epi8(_mm_min_epu8(y, _mm_set1_epi8(9)), y));
        c->white |= BPE_BITS(_mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(z, _mm_set1_epi8(4)), z),
                                          is_space));
        c->newline |= BPE_BITS(is_newline);
        c->space |= BPE_BITS(is_space);
        c->quote |= BPE_BITS(_mm_cmpeq_epi8(v, _mm_set1_epi8('\'')));
        c->slash |= BPE_BITS(_mm_cmpeq_epi8(v, _mm_set1_epi8('/')));
        c->control |= BPE_BITS(_mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(31)), v),
                                            _mm_cmpeq_epi8(v, _mm_set1_epi8(127))));
        c->high |= BPE_BITS(v);
#undef BPE_BITS
    }
}

/* The bits of a that follow each bit of from (from within a): from each, to the end of
   its run in a. The carry of an addition runs through the run; where a run holds several
   bits of from, the sum keeps all but the first of them, so from is added back. */
static inline uint64_t bpe_spread(uint64_t from, uint64_t a) {
    return (((a + from) ^ a) & a) | from;
}

/* The first digit of each group of three in a run of digits: \p{N}{1,3} from the run's
   start. */
static inline uint64_t bpe_digit_groups(uint64_t number) {
    uint64_t groups = number & ~(number << 1);
    uint64_t three = number & (number << 1) & (number << 2), more;
    while ((more = (groups << 3) & three & ~groups))
        groups |= more;
    return groups;
}

/* The length of the case-insensitive contraction after the apostrophe at q ('s 'd 'm 't
   'll 've 're: 2 or 3), or 0; reads p[q + 1], p[q + 2] (zero past the text). */
static inline int bpe_contraction(const uint8_t* p, Py_ssize_t q) {
    uint8_t a = p[q + 1] | 0x20, b = p[q + 2] | 0x20;
    if (a == 's' || a == 'd' || a == 'm' || a == 't')
        return 2;
    if ((a == 'l' && b == 'l') || (a == 'v' && b == 'e') || (a == 'r' && b == 'e'))
        return 3;
    return 0;
}

/* Whitespace after a newline (its run's last) that starts a piece: each bit of after_newline
   whose stretch of non-newline whitespace ends the whitespace run, at a byte that is not
   whitespace, or at the end of the text when at_end. A stretch that reaches past the window
   is not decided here (bpe_settle's limit leaves it out). */
static inline uint64_t bpe_after_last_newline(uint64_t after_newline, uint64_t blank,
                                              uint64_t white, uint64_t inside, int at_end) {
    uint64_t starts = 0;
    while (after_newline) {
        int k = __builtin_ctzll(after_newline), y;
        uint64_t rest = ~blank & (~0ULL << k);
        after_newline &= after_newline - 1;
        if (!rest)
            continue;
        y = __builtin_ctzll(rest);
        if (!((white >> y) & 1) && (at_end || ((inside >> y) & 1)))
            starts |= 1ULL << k;
    }
    return starts;
}

/* Where the run of whitespace that holds the window's last byte starts (64: none): the
   starts from there on depend on where the run ends, past the window. */
static inline int bpe_open_white(uint64_t white, uint64_t inside) {
    uint64_t x = white & inside;
    if (!(x >> 63))
        return 64;
    return ~x ? 64 - __builtin_clzll(~x) : 0;
}
#endif

/* cl100k's pieces of ASCII text as a window (see bpe_gpt2_window), by its pattern's
   alternatives over the four classes (letter L, number N, whitespace W with newlines NL,
   other O):
     - '(?i:[sdmt]|ll|ve|re): at an apostrophe that starts a piece;
     - [^\r\n\p{L}\p{N}]?+\p{L}++: a letter run joins the one character before it when
       that character starts a piece and is O or W but not NL: the last of a whitespace
       run, or an O alone (a longer O run is taken whole by the punctuation alternative);
     - \p{N}{1,3}+: a run of digits cut every three from its start;
     - ' ?[^\s\p{L}\p{N}]++[\r\n]*+': an O run joins the space before it, and takes the
       newlines after it;
     - \s++$ | \s*[\r\n] | \s+(?!\S) | \s: a whitespace run that ends the text is one piece;
       else it is cut after its last newline, and its last character (if not a newline)
       starts a piece of its own, which the letters or O after it may join.
   Rules that look further than a few bytes (the digits' threes, newlines eaten after an O
   run, a whitespace run past the window) make no window or a shorter one when what they
   need is not in it.
   Llama 3's pattern and Qwen 2's are cl100k's without \s++$ (space_to_end 0: a whitespace
   run that ends the text is cut after its last newline too), Qwen 2's with \p{N} for
   \p{N}{1,3} (digit_triples 0: each digit a piece). */
static inline int bpe_cl100k_like_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start,
                                         Py_ssize_t end, PieceWindow* w, int space_to_end,
                                         int digit_triples) {
#if BPE_PIECE_WINDOWS
    Py_ssize_t base = lo - 8;
    uint8_t copy[64];
    BpeClasses c;
    uint64_t inside, L, N, W, NL, O, eaten, blank, same, starts, single, quotes;
    const uint8_t* p;
    if (!bpe_ascii_as_windows())
        return 0;
    p = bpe_window_bytes(s, lo, start, end, copy, &inside);
    bpe_classes64(p, &c);
    if (c.high & inside)
        return bpe_no_window_until(w, base + (63 - __builtin_clzll(c.high & inside)) + 9);
    L = c.letter & inside; N = c.number & inside; W = c.white & inside;
    NL = c.newline & inside;
    O = inside & ~(L | N | W);
    if ((digit_triples && (N & 0x1FF) == 0x1FF) || (NL & 0xFF) == 0xFF)
        return bpe_no_window_until(w, base + 64);   /* a run from before the window */
    eaten = bpe_spread((O << 1) & NL, NL);          /* newlines an O run takes */
    W &= ~eaten;
    NL &= ~eaten;
    blank = W & ~NL;
    same = (L & (L << 1)) | (O & (O << 1)) | (W & (W << 1));
    if (digit_triples)
        same |= N & (N << 1);                       /* else each digit starts a piece */
    starts = inside & ~same & ~eaten;
    if (digit_triples)
        starts |= bpe_digit_groups(N);
    starts |= blank & ~(c.white >> 1) & (inside >> 1);          /* a run's last */
    starts |= bpe_after_last_newline(blank & (NL << 1), blank, W, inside, !space_to_end);
    starts &= ~(L & (blank << 1));                               /* joins letters */
    starts &= ~(O & ((c.space & inside) << 1));                  /* a space joins O */
    single = O & ~(O << 1) & (L >> 1) & ~((c.space & inside) << 1);
    starts &= ~(single << 1);                   /* an O alone joins the letters after it */
    quotes = single & c.quote;
    while (quotes) {
        Py_ssize_t q = __builtin_ctzll(quotes);
        int n;
        quotes &= quotes - 1;
        if (q + 2 < 64 && (n = bpe_contraction(p, q)) && q + n < 64)
            starts |= 1ULL << (q + n);          /* ... or is a contraction */
    }
    return bpe_settle(w, lo, end, starts, bpe_open_white(c.white, inside));
#else
    (void)s; (void)lo; (void)start; (void)end; (void)w; (void)space_to_end;
    (void)digit_triples;
    return 0;
#endif
}

static inline int bpe_cl100k_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start,
                                    Py_ssize_t end, PieceWindow* w) {
    return bpe_cl100k_like_window(s, lo, start, end, w, 1, 1);
}

static inline int bpe_llama3_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start,
                                    Py_ssize_t end, PieceWindow* w) {
    return bpe_cl100k_like_window(s, lo, start, end, w, 0, 1);
}

static inline int bpe_qwen2_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start,
                                   Py_ssize_t end, PieceWindow* w) {
    return bpe_cl100k_like_window(s, lo, start, end, w, 0, 0);
}

/* o200k's pieces of ASCII text as a window: as cl100k's (bpe_cl100k_window), but
     - a letter run is cut before each capital that follows a small letter
       ([UPPER]*[LOWER]+ | [UPPER]+[LOWER]*), and a piece of letters takes a contraction
       after it ('s 't 're 've 'm 'll 'd, any case), there is no contraction alone;
     - an O run takes the newlines and slashes after it ([\r\n/]*);
     - whitespace: there is no \s++$: a run that ends the text is cut after its last
       newline too (\s*[\r\n]+ then \s+(?!\S)). */
static inline int bpe_o200k_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start,
                                   Py_ssize_t end, PieceWindow* w) {
#if BPE_PIECE_WINDOWS
    Py_ssize_t base = lo - 8;
    uint8_t copy[64];
    BpeClasses c;
    uint64_t inside, L, U, N, W, NL, O, eaten, blank, same, starts, single, quotes;
    const uint8_t* p;
    if (!bpe_ascii_as_windows())
        return 0;
    p = bpe_window_bytes(s, lo, start, end, copy, &inside);
    bpe_classes64(p, &c);
    if (c.high & inside)
        return bpe_no_window_until(w, base + (63 - __builtin_clzll(c.high & inside)) + 9);
    L = c.letter & inside; U = c.upper & inside; N = c.number & inside;
    W = c.white & inside; NL = c.newline & inside;
    O = inside & ~(L | N | W);
    if ((N & 0x1FF) == 0x1FF || ((NL | (c.slash & inside)) & 0xFF) == 0xFF)
        return bpe_no_window_until(w, base + 64);   /* a run from before the window */
    eaten = bpe_spread((O << 1) & NL, NL | (c.slash & inside));
    O &= ~eaten;
    W &= ~eaten;
    NL &= ~eaten;
    blank = W & ~NL;
    same = (L & (L << 1)) | (N & (N << 1)) | (O & (O << 1)) | (W & (W << 1));
    starts = inside & ~same & ~eaten;
    starts |= U & ((L & ~U) << 1);              /* a capital after a small letter */
    starts |= bpe_digit_groups(N);
    starts |= blank & ~(c.white >> 1) & (inside >> 1);
    starts |= bpe_after_last_newline(blank & (NL << 1), blank, W, inside, 1);
    starts &= ~(L & (blank << 1));
    starts &= ~(O & ((c.space & inside) << 1));
    single = O & ~(O << 1) & (L >> 1) & ~((c.space & inside) << 1);
    starts &= ~(single << 1);
    quotes = c.quote & inside & (L << 1);       /* an apostrophe after letters ... */
    while (quotes) {
        Py_ssize_t q = __builtin_ctzll(quotes);
        int n;
        quotes &= quotes - 1;
        if (q + 2 < 64 && (n = bpe_contraction(p, q))) {
            starts &= ~(((1ULL << n) - 1) << q);   /* the letters' piece takes it */
            if (q + n < 64) {
                starts |= 1ULL << (q + n);
                quotes &= ~(1ULL << (q + n));      /* ... not after a contraction's */
            }
        }
    }
    return bpe_settle(w, lo, end, starts, bpe_open_white(c.white, inside));
#else
    (void)s; (void)lo; (void)start; (void)end; (void)w;
    return 0;
#endif
}

/* DeepSeek V3's pieces of ASCII text as a window (see bpe_cl100k_window, and deepseek_piece
   in bpe/_pretokenize.pxd). Over ASCII the classes are letters L, digits N, whitespace W with
   newlines NL, punctuation and symbols P (every other printable byte), and control bytes C
   (in none of the regex's classes). Pieces start where the class changes, except:
     - digits are cut every three from their run's start, and a run of digits ends the
       stretch the last Split sees: white space before it is not given back;
     - a letter run joins the one byte before it when that byte starts a piece and is a C,
       the last of a whitespace run (not a newline), or a P alone that no space took;
     - a P run joins the space before it, and takes the newlines after it;
     - a run of C bytes is one piece, but for its last when letters follow;
     - whitespace is cut after its last newline, and its last byte (if not a newline) starts
       a piece of its own when a letter, P or C follows (\s+(?!\S)). */
static inline int bpe_deepseek_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start,
                                      Py_ssize_t end, PieceWindow* w) {
#if BPE_PIECE_WINDOWS
    Py_ssize_t base = lo - 8;
    uint8_t copy[64];
    BpeClasses c;
    uint64_t inside, L, N, W, NL, P, C, SP, eaten, blank, same, starts, single;
    const uint8_t* p;
    if (!bpe_ascii_as_windows())
        return 0;
    p = bpe_window_bytes(s, lo, start, end, copy, &inside);
    bpe_classes64(p, &c);
    if (c.high & inside)
        return bpe_no_window_until(w, base + (63 - __builtin_clzll(c.high & inside)) + 9);
    L = c.letter & inside; N = c.number & inside; W = c.white & inside;
    NL = c.newline & inside; SP = c.space & inside;
    C = c.control & inside & ~W;
    P = inside & ~(L | N | W | C);
    if ((N & 0x1FF) == 0x1FF || (NL & 0xFF) == 0xFF)
        return bpe_no_window_until(w, base + 64);   /* a run from before the window */
    eaten = bpe_spread((P << 1) & NL, NL);          /* newlines a P run takes */
    W &= ~eaten;
    NL &= ~eaten;
    blank = W & ~NL;
    same = (L & (L << 1)) | (N & (N << 1)) | (P & (P << 1)) | (W & (W << 1)) | (C & (C << 1));
    starts = inside & ~same & ~eaten;
    starts |= bpe_digit_groups(N);
    starts |= blank & ~(c.white >> 1) & ((L | P | C) >> 1);    /* a run's last gives back */
    starts |= bpe_after_last_newline(blank & (NL << 1), blank, W, inside, 1);
    starts |= C & (L >> 1);                     /* the last C before letters ... */
    starts &= ~(L & ((blank | C) << 1));        /* ... and a blank join them */
    starts &= ~(P & (SP << 1));                 /* a space joins P */
    single = P & ~(P << 1) & (L >> 1) & ~(SP << 1);
    starts &= ~(single << 1);                   /* a P alone joins the letters after it */
    return bpe_settle(w, lo, end, starts, bpe_open_white(c.white, inside));
#else
    (void)s; (void)lo; (void)start; (void)end; (void)w;
    return 0;
#endif
}

#endif
