"""The native pre-tokenizer: GPT-2, cl100k, o200k, Llama 3 and Qwen 2 pieces over UTF-8 bytes.

`next_piece(text, i, end, pattern)` returns where the piece that starts at byte i ends,
exactly as `regex.finditer` with that pattern would cut the same text. The patterns
cover every character, so pieces are back to back and a caller walks them with
`while i < end: j = next_piece(...); ...; i = j`. Each function below follows one pattern's
alternatives in order, backtracking only where the regex would. Llama 3's and Qwen 2's
patterns are cl100k's but for two alternatives (no `\\s++$`; Qwen 2's digits one at a time),
so cl100k_piece matches all three, told which by two flags.

Callers walk with `piece_end`, the same with a PieceWindow: the pieces of ASCII text
(nearly all of English text and code) come from a bitmap of a window's piece starts, made
54 bytes at a time (include/bpe_piece_window.h, one function a pattern), and next_piece
does the rest.

Inline here so that the encode and count kernels compile the matcher into their loops.
The text must be valid UTF-8 (it comes from a Python str).
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy


cdef extern from "bpe_unicode_tables.h" nogil:
    enum:
        CLASS_SPACE
        CLASS_LETTER
        CLASS_NUMBER
        CLASS_MARK
        CLASS_UPPERISH
        CLASS_LOWERISH
    uint8_t unicode_class(uint32_t c)
    const uint8_t unicode_stage2[][256]
    bint folds_to_s(uint32_t c)
    bint folds_to_d(uint32_t c)
    bint folds_to_m(uint32_t c)
    bint folds_to_t(uint32_t c)
    bint folds_to_l(uint32_t c)
    bint folds_to_v(uint32_t c)
    bint folds_to_r(uint32_t c)
    bint folds_to_e(uint32_t c)

cdef enum:
    PATTERN_GPT2 = 0
    PATTERN_CL100K = 1
    PATTERN_O200K = 2
    PATTERN_LLAMA3 = 3
    PATTERN_QWEN2 = 4
    CLASS_END = 0x80           # past the end of the text: in no class, not "other" either
    NOT_OTHER = CLASS_SPACE | CLASS_LETTER | CLASS_NUMBER | CLASS_END


cdef inline uint32_t code_point(const uint8_t* s, Py_ssize_t i, Py_ssize_t* width) noexcept nogil:
    cdef uint8_t b = s[i]
    if b < 0x80:
        width[0] = 1
        return b
    if b < 0xE0:
        width[0] = 2
        return ((b & 0x1F) << 6) | (s[i + 1] & 0x3F)
    if b < 0xF0:
        width[0] = 3
        return ((b & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F)
    width[0] = 4
    return ((b & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F)


cdef inline uint8_t class_at(const uint8_t* s, Py_ssize_t i, Py_ssize_t end, Py_ssize_t* width) noexcept nogil:
    if i >= end:
        width[0] = 0
        return CLASS_END
    if s[i] < 0x80:
        width[0] = 1
        return unicode_stage2[0][s[i]]     # ASCII: block 0 of the table
    return unicode_class(code_point(s, i, width))


cdef inline bint is_other(uint8_t c) noexcept nogil:
    """[^\\s\\p{L}\\p{N}]"""
    return (c & NOT_OTHER) == 0


cdef extern from "bpe_piece_window.h" nogil:
    ctypedef struct PieceWindow:
        Py_ssize_t lo, hi, base, retry
        uint64_t bits
    bint bpe_gpt2_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start, Py_ssize_t end,
                         PieceWindow* w) nogil
    bint bpe_cl100k_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start, Py_ssize_t end,
                           PieceWindow* w) nogil
    bint bpe_o200k_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start, Py_ssize_t end,
                          PieceWindow* w) nogil
    bint bpe_llama3_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start, Py_ssize_t end,
                           PieceWindow* w) nogil
    bint bpe_qwen2_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start, Py_ssize_t end,
                          PieceWindow* w) nogil
    bint BPE_PIECE_WINDOWS
    bint BPE_LITTLE_ENDIAN
    bint bpe_ascii_as_windows() nogil
    int __builtin_ctzll(unsigned long long x) nogil


cdef inline Py_ssize_t ascii_letters(const uint8_t* s, Py_ssize_t i, Py_ssize_t end,
                                     bint lower_only) noexcept nogil:
    """Skip ASCII letters (lower_only: a..z) eight bytes at a time: where the first byte
    that is not one is (or where fewer than eight bytes remain). Per byte, b | 0x20 is in
    a..z exactly for ASCII letters; a byte with its high bit set is not one, and the carry
    its sums may spill only reaches bytes after it, which are not counted."""
    cdef uint64_t word, lower, letters
    while i + 8 <= end:
        memcpy(&word, s + i, 8)
        lower = word if lower_only else word | 0x2020202020202020ULL
        letters = ((lower + 0x1F1F1F1F1F1F1F1FULL) & ~(lower + 0x0505050505050505ULL)
                   & ~word & 0x8080808080808080ULL)
        if letters != 0x8080808080808080ULL:
            return i + (__builtin_ctzll(~letters & 0x8080808080808080ULL) >> 3)
        i += 8
    return i


cdef inline Py_ssize_t run_of(const uint8_t* s, Py_ssize_t i, Py_ssize_t end, uint8_t mask) noexcept nogil:
    """The end of the run of characters in `mask` starting at i."""
    cdef Py_ssize_t w
    if BPE_LITTLE_ENDIAN and (mask == CLASS_LETTER or mask == CLASS_LOWERISH):
        # The common case first (o200k's lower-case class holds a..z, not A..Z), then the
        # general loop goes on from the first byte it stopped at.
        i = ascii_letters(s, i, end, mask == CLASS_LOWERISH)
    while i < end:
        if s[i] < 0x80:                    # ASCII: one table load, no decoding
            if not (unicode_stage2[0][s[i]] & mask):
                break
            i += 1
        else:
            if not (unicode_class(code_point(s, i, &w)) & mask):
                break
            i += w
    return i


cdef inline Py_ssize_t run_of_other(const uint8_t* s, Py_ssize_t i, Py_ssize_t end) noexcept nogil:
    """The end of the run of [^\s\p{L}\p{N}] starting at i."""
    cdef Py_ssize_t w
    while i < end:
        if s[i] < 0x80:
            if unicode_stage2[0][s[i]] & NOT_OTHER:
                break
            i += 1
        else:
            if unicode_class(code_point(s, i, &w)) & NOT_OTHER:
                break
            i += w
    return i


cdef inline Py_ssize_t up_to_3_numbers(const uint8_t* s, Py_ssize_t i, Py_ssize_t end) noexcept nogil:
    """\\p{N}{1,3} at i, whose first character is a number."""
    cdef Py_ssize_t w, k
    for k in range(3):
        if not (class_at(s, i, end, &w) & CLASS_NUMBER):
            break
        i += w
    return i


cdef struct SpaceRun:
    Py_ssize_t end             # end of the whitespace run
    Py_ssize_t last_start      # start of its last character
    Py_ssize_t newline_end     # just past its last \r or \n; -1 if it has none
    Py_ssize_t n_chars


cdef inline SpaceRun space_run(const uint8_t* s, Py_ssize_t i, Py_ssize_t end) noexcept nogil:
    cdef SpaceRun r
    cdef Py_ssize_t w
    r.last_start = i
    r.newline_end = -1
    r.n_chars = 0
    while i < end and (class_at(s, i, end, &w) & CLASS_SPACE):
        r.last_start = i
        r.n_chars += 1
        if s[i] == 13 or s[i] == 10:
            r.newline_end = i + 1
        i += w
    r.end = i
    return r


cdef inline Py_ssize_t gpt2_piece(const uint8_t* s, Py_ssize_t i, Py_ssize_t end) noexcept nogil:
    # '(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    cdef uint8_t b = s[i], b1, c, c1
    cdef Py_ssize_t w, w1
    cdef SpaceRun r
    # The common pieces first: an ASCII word, with or without its leading space.
    if b < 0x80 and (unicode_stage2[0][b] & CLASS_LETTER):
        return run_of(s, i + 1, end, CLASS_LETTER)
    if b == 32 and i + 1 < end and s[i + 1] < 0x80 and (unicode_stage2[0][s[i + 1]] & CLASS_LETTER):
        return run_of(s, i + 2, end, CLASS_LETTER)
    if b == 39 and i + 1 < end:
        b1 = s[i + 1]
        if b1 == 115 or b1 == 100 or b1 == 109 or b1 == 116:          # s d m t
            return i + 2
        if i + 2 < end and ((b1 == 108 and s[i + 2] == 108) or         # ll
                            (b1 == 118 and s[i + 2] == 101) or         # ve
                            (b1 == 114 and s[i + 2] == 101)):          # re
            return i + 3
    c = class_at(s, i, end, &w)
    if b == 32:
        c1 = class_at(s, i + 1, end, &w1)
        if c1 & CLASS_LETTER:
            return run_of(s, i + 1 + w1, end, CLASS_LETTER)
        if c1 & CLASS_NUMBER:
            return run_of(s, i + 1 + w1, end, CLASS_NUMBER)
        if is_other(c1):
            return run_of_other(s, i + 1 + w1, end)
    if c & CLASS_LETTER:
        return run_of(s, i + w, end, CLASS_LETTER)
    if c & CLASS_NUMBER:
        return run_of(s, i + w, end, CLASS_NUMBER)
    if not (c & CLASS_SPACE):
        return run_of_other(s, i + w, end)
    r = space_run(s, i, end)
    if r.end == end or r.n_chars == 1:
        return r.end                       # \s+(?!\S) to the end, or \s+ of one character
    return r.last_start                    # \s+(?!\S) gives back the last space


cdef inline Py_ssize_t contraction_ci(const uint8_t* s, Py_ssize_t i, Py_ssize_t end,
                                      bint with_t) noexcept nogil:
    """After the apostrophe at i: the end of a case-insensitive 's 'd 'm ('t) 'll 've 're, or i."""
    cdef Py_ssize_t w1, w2
    cdef uint32_t c1, c2
    if i + 1 >= end or s[i] != 39:
        return i
    c1 = code_point(s, i + 1, &w1)
    if folds_to_s(c1) or folds_to_d(c1) or folds_to_m(c1) or (with_t and folds_to_t(c1)):
        return i + 1 + w1
    if i + 1 + w1 < end:
        c2 = code_point(s, i + 1 + w1, &w2)
        if ((folds_to_l(c1) and folds_to_l(c2)) or (folds_to_v(c1) and folds_to_e(c2)) or
                (folds_to_r(c1) and folds_to_e(c2))):
            return i + 1 + w1 + w2
    return i


cdef inline Py_ssize_t punctuation_run(const uint8_t* s, Py_ssize_t i, Py_ssize_t end,
                                       bint slash) noexcept nogil:
    """ ?[^\s\p{L}\p{N}]+ then any \r \n (and / for o200k) at i: its end, or -1."""
    cdef Py_ssize_t w, j, p = i
    if s[i] == 32 and is_other(class_at(s, i + 1, end, &w)):
        p = i + 1
    if not is_other(class_at(s, p, end, &w)):
        return -1
    j = run_of_other(s, p + w, end)
    while j < end and (s[j] == 13 or s[j] == 10 or (slash and s[j] == 47)):
        j += 1
    return j


cdef inline Py_ssize_t cl100k_piece(const uint8_t* s, Py_ssize_t i, Py_ssize_t end,
                                    bint space_to_end, bint digit_triples) noexcept nogil:
    # cl100k (space_to_end, digit_triples):
    # '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+
    # |\s++$|\s*[\r\n]|\s+(?!\S)|\s
    # Llama 3 (digit_triples), and Qwen 2 (neither: \p{N} for \p{N}{1,3}):
    # (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*
    # |\s*[\r\n]+|\s+(?!\S)|\s+
    # The same pieces but for a whitespace run that ends the text: without \s++$ it is cut
    # after its last newline too. (\s*[\r\n]+ ends where \s*[\r\n] does, at the run's last
    # newline; \s+ takes one character where \s+(?!\S) failed; the optional and possessive
    # quantifiers give back nothing another branch could use.)
    cdef uint8_t b = s[i], c
    cdef Py_ssize_t w, w1, j
    cdef SpaceRun r
    j = contraction_ci(s, i, end, True)
    if j > i:
        return j
    c = class_at(s, i, end, &w)
    if c & CLASS_LETTER:
        return run_of(s, i + w, end, CLASS_LETTER)
    if not (c & CLASS_NUMBER) and b != 13 and b != 10:
        if class_at(s, i + w, end, &w1) & CLASS_LETTER:
            return run_of(s, i + w + w1, end, CLASS_LETTER)
    if c & CLASS_NUMBER:
        return up_to_3_numbers(s, i, end) if digit_triples else i + w
    j = punctuation_run(s, i, end, False)
    if j >= 0:
        return j
    r = space_run(s, i, end)
    if space_to_end and r.end == end:
        return r.end                       # \s++$
    if r.newline_end >= 0:
        return r.newline_end               # \s*[\r\n]
    if r.n_chars >= 2 and r.end < end:
        return r.last_start                # \s+(?!\S)
    return r.end                           # \s+(?!\S) to the end, or \s


cdef inline Py_ssize_t upper_then_lower(const uint8_t* s, Py_ssize_t p, Py_ssize_t end) noexcept nogil:
    """[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+ at p: its end, or -1.
    The first class is greedy, so it gives back characters from its end until the second
    class can start."""
    cdef Py_ssize_t w, k, q = run_of(s, p, end, CLASS_UPPERISH)
    k = q
    while True:
        if class_at(s, k, end, &w) & CLASS_LOWERISH:
            return run_of(s, k, end, CLASS_LOWERISH)
        if k == p:
            return -1
        k -= 1
        while (s[k] & 0xC0) == 0x80:       # back to the start of the previous character
            k -= 1


cdef inline Py_ssize_t o200k_piece(const uint8_t* s, Py_ssize_t i, Py_ssize_t end) noexcept nogil:
    # [^\r\n\p{L}\p{N}]?[UPPERISH]*[LOWERISH]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
    # |[^\r\n\p{L}\p{N}]?[UPPERISH]+[LOWERISH]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
    # |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
    cdef uint8_t b = s[i], c
    cdef Py_ssize_t w, w1, j
    cdef bint prefix = False
    cdef SpaceRun r
    c = class_at(s, i, end, &w)
    prefix = not (c & (CLASS_LETTER | CLASS_NUMBER)) and b != 13 and b != 10
    if prefix:
        j = upper_then_lower(s, i + w, end)
        if j >= 0:
            return contraction_ci(s, j, end, True)
    j = upper_then_lower(s, i, end)
    if j >= 0:
        return contraction_ci(s, j, end, True)
    if prefix and (class_at(s, i + w, end, &w1) & CLASS_UPPERISH):
        j = run_of(s, run_of(s, i + w, end, CLASS_UPPERISH), end, CLASS_LOWERISH)
        return contraction_ci(s, j, end, True)
    if c & CLASS_UPPERISH:
        j = run_of(s, run_of(s, i, end, CLASS_UPPERISH), end, CLASS_LOWERISH)
        return contraction_ci(s, j, end, True)
    if c & CLASS_NUMBER:
        return up_to_3_numbers(s, i, end)
    j = punctuation_run(s, i, end, True)
    if j >= 0:
        return j
    r = space_run(s, i, end)
    if r.newline_end >= 0:
        return r.newline_end               # \s*[\r\n]+
    if r.end == end or r.n_chars == 1:
        return r.end                       # \s+(?!\S) to the end, or \s+
    return r.last_start                    # \s+(?!\S)


cdef inline void no_window(PieceWindow* w) noexcept nogil:
    """Start a scan with no window made yet."""
    w.lo = w.hi = w.base = w.retry = 0
    w.bits = 0


cdef inline bint make_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start, Py_ssize_t end,
                             int pattern, PieceWindow* w) noexcept nogil:
    if pattern == PATTERN_GPT2:
        return bpe_gpt2_window(s, lo, start, end, w)
    if pattern == PATTERN_CL100K:
        return bpe_cl100k_window(s, lo, start, end, w)
    if pattern == PATTERN_O200K:
        return bpe_o200k_window(s, lo, start, end, w)
    if pattern == PATTERN_LLAMA3:
        return bpe_llama3_window(s, lo, start, end, w)
    return bpe_qwen2_window(s, lo, start, end, w)


cdef inline Py_ssize_t next_piece(const uint8_t* s, Py_ssize_t i, Py_ssize_t end, int pattern) noexcept nogil:
    if pattern == PATTERN_GPT2:
        return gpt2_piece(s, i, end)
    if pattern == PATTERN_CL100K:
        return cl100k_piece(s, i, end, True, True)
    if pattern == PATTERN_O200K:
        return o200k_piece(s, i, end)
    if pattern == PATTERN_LLAMA3:
        return cl100k_piece(s, i, end, False, True)
    return cl100k_piece(s, i, end, False, False)


cdef inline Py_ssize_t piece_end(const uint8_t* s, Py_ssize_t i, Py_ssize_t end, int pattern,
                                 PieceWindow* w) noexcept nogil:
    """next_piece(s, i, end, pattern) for a piece start i in s[:end], through the
    ASCII windows (w: no_window at the scan's start): where the next piece starts. Small,
    so that the loops that call it compile it in: the next start in the current window,
    else piece_end_past."""
    cdef Py_ssize_t at = i + 1
    cdef uint64_t later
    if w.lo <= at < w.hi:
        later = w.bits >> (at - w.base)
        if later:
            return at + __builtin_ctzll(later)
    return piece_end_past(s, i, end, pattern, w)


cdef Py_ssize_t piece_end_past(const uint8_t* s, Py_ssize_t i, Py_ssize_t end, int pattern,
                               PieceWindow* w) noexcept nogil


cdef Py_ssize_t byte_offset(str text, const uint8_t* s, Py_ssize_t n_bytes, Py_ssize_t n_chars) noexcept
cdef Py_ssize_t char_count(str text, const uint8_t* s, Py_ssize_t n_bytes) noexcept
