"""The native pre-tokenizer: GPT-2, cl100k, o200k, Llama 3, Qwen 2 and DeepSeek V3 pieces over
UTF-8 bytes.

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
        CLASS_PUNCT_SYMBOL
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
    PATTERN_DEEPSEEK_V3 = 5
    CLASS_END = 0x80           # past the end of the text: in no class, not "other" either
    NOT_OTHER = CLASS_SPACE | CLASS_LETTER | CLASS_NUMBER | CLASS_END


cdef inline int check_pattern_id(int pattern_id) except -1:
    """A ValueError unless pattern_id names a native pattern (a value of PATTERN_IDS): the
    matchers would take any other id for the last pattern's."""
    if not PATTERN_GPT2 <= pattern_id <= PATTERN_DEEPSEEK_V3:
        raise ValueError(f"pattern_id {pattern_id} is no native pattern's "
                         f"(0 to {<int>PATTERN_DEEPSEEK_V3})")
    return 0


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
    bint bpe_deepseek_window(const uint8_t* s, Py_ssize_t lo, Py_ssize_t start, Py_ssize_t end,
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


# DeepSeek V3 (and R1) pre-tokenize with three Splits in sequence, each on the pieces of the
# one before (bpe/patterns.py, DEEPSEEK_V3_SPLITS): \p{N}{1,3}; then runs of its CJK class
# [一-龥\u3040-ゟ゠-ヿ]; then, inside each stretch left, this regex, whose unmatched
# characters are pieces too:
#   [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
#   | ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
# So the text falls into segments of one kind each: a run of numbers (cut in threes), a run
# of the CJK class, a run of neither; the last regex runs inside one segment, whose end is
# the end of the text to it (a run of spaces before a digit is taken whole, as at the end).
cdef enum:
    DS_CJK = 0x100             # ds_class_at: in the CJK class (and not a number)
    DS_KIND = CLASS_NUMBER | DS_CJK | CLASS_END
    LETTER_MARK = CLASS_LETTER | CLASS_MARK


cdef inline int ds_class_at(const uint8_t* s, Py_ssize_t i, Py_ssize_t end,
                            Py_ssize_t* width) noexcept nogil:
    """class_at, with DS_CJK for a character of DeepSeek's CJK class."""
    cdef uint32_t c
    cdef int cls
    if i >= end:
        width[0] = 0
        return CLASS_END
    if s[i] < 0x80:
        width[0] = 1
        return unicode_stage2[0][s[i]]
    c = code_point(s, i, width)
    cls = unicode_class(c)
    if (0x3040 <= c <= 0x30FF or 0x4E00 <= c <= 0x9FA5) and not (cls & CLASS_NUMBER):
        cls |= DS_CJK
    return cls


cdef inline Py_ssize_t ds_run(const uint8_t* s, Py_ssize_t i, Py_ssize_t end, int kind,
                              int mask) noexcept nogil:
    """The end of the run of characters in `mask` of the segment kind `kind` from i."""
    cdef Py_ssize_t w
    cdef int c
    if kind == 0 and BPE_LITTLE_ENDIAN and mask == LETTER_MARK:
        i = ascii_letters(s, i, end, False)
    while i < end:
        if s[i] < 0x80:
            if kind != 0 or not (unicode_stage2[0][s[i]] & mask):
                break
            i += 1
        else:
            c = ds_class_at(s, i, end, &w)
            if not (c & mask) or (c & DS_KIND) != kind:
                break
            i += w
    return i


cdef inline Py_ssize_t deepseek_piece(const uint8_t* s, Py_ssize_t i,
                                      Py_ssize_t end) noexcept nogil:
    cdef uint8_t b = s[i]
    cdef int c, c1, d, kind
    cdef Py_ssize_t w, w1, j
    cdef SpaceRun r
    if b < 0x80:                           # the common pieces first: a word, " word"
        if unicode_stage2[0][b] & CLASS_LETTER:
            return ds_run(s, i + 1, end, 0, LETTER_MARK)
        if b == 32 and i + 1 < end and s[i + 1] < 0x80 and (unicode_stage2[0][s[i + 1]]
                                                            & CLASS_LETTER):
            return ds_run(s, i + 2, end, 0, LETTER_MARK)
    c = ds_class_at(s, i, end, &w)
    kind = c & DS_KIND
    if kind == CLASS_NUMBER:
        return up_to_3_numbers(s, i, end)
    c1 = ds_class_at(s, i + w, end, &w1)
    if (b < 0x80 and (c & CLASS_PUNCT_SYMBOL) and i + 1 < end and s[i + 1] < 0x80
            and (unicode_stage2[0][s[i + 1]] & CLASS_LETTER)):
        j = ascii_letters(s, i + 2, end, False) if BPE_LITTLE_ENDIAN else i + 2
        while j < end and s[j] < 0x80 and (unicode_stage2[0][s[j]] & CLASS_LETTER):
            j += 1
        return j                           # [!"#...~][A-Za-z]+
    if c & LETTER_MARK:
        return ds_run(s, i + w, end, kind, LETTER_MARK)
    if (not (c & CLASS_PUNCT_SYMBOL) and b != 13 and b != 10 and (c1 & LETTER_MARK)
            and (c1 & DS_KIND) == kind):
        return ds_run(s, i + w + w1, end, kind, LETTER_MARK)   # [^\r\n\p{L}\p{P}\p{S}]?
    if c & CLASS_PUNCT_SYMBOL or (b == 32 and (c1 & CLASS_PUNCT_SYMBOL) and kind == 0
                                  and (c1 & DS_KIND) == 0):
        j = ds_run(s, i + w if c & CLASS_PUNCT_SYMBOL else i + 1 + w1, end, kind,
                   CLASS_PUNCT_SYMBOL)
        while kind == 0 and j < end and (s[j] == 13 or s[j] == 10):
            j += 1
        return j                           # ' ?[\p{P}\p{S}]+[\r\n]*'
    if c & CLASS_SPACE:
        r = space_run(s, i, end)
        if r.newline_end >= 0:
            return r.newline_end           # \s*[\r\n]+
        if r.n_chars >= 2 and (ds_class_at(s, r.end, end, &w1) & DS_KIND) == 0:
            return r.last_start            # \s+(?!\S), something follows in the segment
        return r.end                       # \s+(?!\S) to the segment's end, or \s+
    # No branch matches: the characters up to where one does, in the segment, are a piece.
    j = i + w
    while True:
        d = ds_class_at(s, j, end, &w)
        if (d & DS_KIND) != kind or d & (LETTER_MARK | CLASS_PUNCT_SYMBOL | CLASS_SPACE):
            return j
        c1 = ds_class_at(s, j + w, end, &w1)
        if (c1 & LETTER_MARK) and (c1 & DS_KIND) == kind:
            return j                       # [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ at j
        j += w


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
    if pattern == PATTERN_QWEN2:
        return bpe_qwen2_window(s, lo, start, end, w)
    return bpe_deepseek_window(s, lo, start, end, w)


cdef inline Py_ssize_t next_piece(const uint8_t* s, Py_ssize_t i, Py_ssize_t end, int pattern) noexcept nogil:
    if pattern == PATTERN_GPT2:
        return gpt2_piece(s, i, end)
    if pattern == PATTERN_CL100K:
        return cl100k_piece(s, i, end, True, True)
    if pattern == PATTERN_O200K:
        return o200k_piece(s, i, end)
    if pattern == PATTERN_LLAMA3:
        return cl100k_piece(s, i, end, False, True)
    if pattern == PATTERN_QWEN2:
        return cl100k_piece(s, i, end, False, False)
    return deepseek_piece(s, i, end)


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


cdef inline uint64_t starts_after(const PieceWindow* w, Py_ssize_t j) noexcept nogil:
    """The piece starts after j that w settles, as a bitmap (bit k: byte w.base + k), for a
    piece start j: while it is not empty, its lowest bit is piece_end(s, j, ...), and
    clearing that bit gives the starts after that one. Empty where w does not cover
    j + 1: piece_end goes past it."""
    if w.lo <= j + 1 < w.hi:
        return w.bits & (~0ULL << (j + 1 - w.base))
    return 0


cdef Py_ssize_t piece_end_past(const uint8_t* s, Py_ssize_t i, Py_ssize_t end, int pattern,
                               PieceWindow* w) noexcept nogil


cdef Py_ssize_t byte_offset(str text, const uint8_t* s, Py_ssize_t n_bytes, Py_ssize_t n_chars) noexcept
cdef Py_ssize_t char_count(str text, const uint8_t* s, Py_ssize_t n_bytes) noexcept
