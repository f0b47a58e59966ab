# cython: language_level=3
"""Decode: ids -> the bytes of their tokens, concatenated (or the str they make).

TokenArena holds every token's bytes back to back, and each token of up to COPY bytes (most)
also in a block of its own at COPY * id, copied whole: one load that needs only the id,
where the arena needs the token's place first. One gather loop (`_gather`) serves every kind
of input: NumPy arrays of uint16, uint32, int32 or int64, and lists of Python ints, whose ids
it reads in place (one of encode's pinned ints from its address, any other small int from
its digit: include/bpe_ints.h). The output buffer starts from the thread's spare
(include/bpe_spare.h) and grows by the one rule of include/bpe_memory.h.
"""
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.bool cimport PyBool_Check
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_Check
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy

from bpe._ids cimport pinned_block
from bpe._memory cimport buffer_reserve, table_alloc
from bpe._utf8 cimport utf8_to_str

cdef extern from "Python.h":
    ctypedef struct PyObject
    PyObject** PySequence_Fast_ITEMS(object items)

cdef extern from "bpe_ints.h" nogil:
    enum: BPE_INT_SHIFT
    bint bpe_small_int(PyObject* o, long long* value)

cdef extern from "bpe_spare.h" nogil:
    enum: BPE_SPARE_DECODE
    void* bpe_take_spare(int kind, size_t* capacity)
    void bpe_give_spare(int kind, void* data, size_t capacity)

ctypedef PyObject* object_ptr

ctypedef fused array_id:    # a NumPy array's ids
    uint16_t
    uint32_t
    int32_t
    int64_t

ctypedef fused any_id:      # the same, or a list's items
    uint16_t
    uint32_t
    int32_t
    int64_t
    object_ptr


cdef struct TokenSpan:
    uint32_t start          # in the arena
    uint32_t length         # ABSENT: no token has this id

cdef enum:
    ABSENT = 0xFFFFFFFF
    COPY = 16               # tokens up to this long are copied as one fixed-size block
    UNKNOWN_ID = 1          # Output.failed
    NO_MEMORY = 2


@cython.final
cdef class TokenArena:
    """Every token's bytes back to back; decode gathers them.

    Attributes: arena (the bytes, COPY bytes of slack after them), spans (each id's place
    and length), blocks and short_length (each short token's block), n_vocab.
    Thread-safety: read-only once made; any number of threads decode with one."""
    cdef uint8_t* arena
    cdef TokenSpan* spans
    cdef uint8_t* blocks                 # [COPY * id]: the bytes of a token of up to COPY
    cdef uint8_t* short_length           # bytes, zero-padded, and its length; 0: longer,
    cdef readonly Py_ssize_t n_vocab     # or no token (see spans)

    def __cinit__(self, list tokens):
        """tokens[i]: the bytes of id i, or None where no token has that id."""
        cdef Py_ssize_t i, total = 0
        self.n_vocab = len(tokens)
        for token in tokens:
            if token is not None:
                total += len(<bytes>token)
        if total >= ABSENT:
            raise ValueError("the vocabulary holds 4 GB of token bytes or more")
        self.arena = <uint8_t*>calloc(total + COPY, 1)
        self.spans = <TokenSpan*>malloc(max(self.n_vocab, 1) * sizeof(TokenSpan))
        self.blocks = <uint8_t*>table_alloc(max(self.n_vocab, 1) * COPY, 0)
        self.short_length = <uint8_t*>calloc(max(self.n_vocab, 1), 1)
        if (self.arena == NULL or self.spans == NULL or self.blocks == NULL
                or self.short_length == NULL):
            raise MemoryError("no memory for the decode table")
        total = 0
        for i in range(self.n_vocab):
            token = tokens[i]
            if token is None:
                self.spans[i].start, self.spans[i].length = 0, ABSENT
                continue
            self.spans[i].start, self.spans[i].length = total, len(<bytes>token)
            memcpy(self.arena + total, PyBytes_AS_STRING(token), len(<bytes>token))
            total += len(<bytes>token)
            if 0 < len(<bytes>token) <= COPY:
                memcpy(self.blocks + i * COPY, PyBytes_AS_STRING(token), len(<bytes>token))
                self.short_length[i] = len(<bytes>token)

    def __dealloc__(self):
        free(self.arena)
        free(self.spans)
        free(self.blocks)
        free(self.short_length)

    def decode(self, const array_id[::1] ids, bint as_text=False, str errors="replace"):
        """The bytes of the ids (a NumPy array of uint16, uint32, int32 or int64),
        concatenated (as_text: decoded as UTF-8 with `errors`); ValueError names the first
        unknown id. Gathered without the GIL."""
        cdef Py_ssize_t n = ids.shape[0], stop
        cdef Output out = Output()
        with nogil:
            stop = _gather(self, &ids[0] if n else NULL, 0, n, out)
        if stop < n:
            self.fail(out, ids[stop], stop)
        return out.result(as_text, errors)

    def decode_list(self, list ids, bint as_text=False, str errors="replace"):
        """decode for a list of Python ints, read in place without a NumPy copy (see the
        module docstring); an item the gather cannot read in place (an int of more than one
        digit, or no int at all) is read here, under the GIL that guards the list."""
        cdef Py_ssize_t i = 0, n = len(ids)
        cdef PyObject** items = PySequence_Fast_ITEMS(ids)
        cdef Output out = Output()
        cdef long long t
        cdef int overflow
        while True:
            i = _gather(self, <const object_ptr*>items, i, n, out)
            if i == n:
                return out.result(as_text, errors)
            item = <object>items[i]
            if out.failed == NO_MEMORY or not PyLong_Check(item) or PyBool_Check(item):
                self.fail(out, item, i)
            t = PyLong_AsLongLongAndOverflow(item, &overflow)
            if overflow or not self.append_token(t, out):
                self.fail(out, item, i)
            i += 1

    cdef bint append_token(self, long long t, Output out) except -1:
        """Append the bytes of id t to out; False when no token has that id."""
        if t < 0 or t >= self.n_vocab or self.spans[t].length == ABSENT:
            return False
        cdef TokenSpan span = self.spans[t]
        cdef uint8_t* stop
        cdef uint8_t* dst = out.room(out.data + out.size, span.length, &stop)
        if dst == NULL:
            raise MemoryError("no memory for the decoded text")
        out.size = _copy_token(self, span, dst) - out.data
        return True

    cdef fail(self, Output out, token, Py_ssize_t position):
        if out.failed == NO_MEMORY:
            raise MemoryError("no memory for the decoded text")
        if not isinstance(token, int) or isinstance(token, bool):
            raise TypeError(f"ids must be ints; item {position} is {type(token).__name__}")
        raise ValueError(f"token id {token} at position {position} is not in the vocabulary "
                         f"(ids 0..{self.n_vocab - 1})")


@cython.final
cdef class Output:
    """A growing byte buffer for decode, with COPY bytes of slack at its end; it starts
    from the thread's spare buffer and becomes the spare when done.

    Attributes: data, size (bytes written), capacity, failed (UNKNOWN_ID or NO_MEMORY).
    Thread-safety: one thread at a time."""
    cdef uint8_t* data
    cdef size_t size, capacity
    cdef int failed

    def __cinit__(self):
        self.data = <uint8_t*>bpe_take_spare(BPE_SPARE_DECODE, &self.capacity)

    def __dealloc__(self):
        if self.data != NULL:
            bpe_give_spare(BPE_SPARE_DECODE, self.data, self.capacity)

    cdef uint8_t* room(self, uint8_t* dst, size_t extra, uint8_t** stop) noexcept nogil:
        """For a writer at dst (the end of what is written): room for extra more bytes and
        the slack. Where to write now (the buffer may have moved), with stop set to where
        the room for a whole COPY block ends; NULL (failed = NO_MEMORY) when out of memory."""
        cdef void* data = self.data
        self.size = dst - self.data
        if buffer_reserve(&data, &self.capacity, self.size, self.size + extra + COPY) != 0:
            self.failed = NO_MEMORY
            return NULL
        self.data = <uint8_t*>data
        stop[0] = self.data + self.capacity - COPY
        return self.data + self.size

    cdef result(self, bint as_text, str errors):
        """The bytes gathered, or the str they decode to."""
        if as_text:
            text = utf8_to_str(self.data, self.size)
            if text is None:           # not UTF-8: the error handler decides
                text = PyUnicode_DecodeUTF8(<char*>self.data, self.size, errors.encode("ascii"))
            return text
        return PyBytes_FromStringAndSize(<char*>self.data, self.size)


cdef Py_ssize_t _gather(TokenArena arena, const any_id* ids, Py_ssize_t start, Py_ssize_t n,
                        Output out) noexcept nogil:
    """Append the bytes of ids[start:n] to out, growing it as needed. Returns n when all
    are appended, else the position of the first id it could not append: an unknown id
    (out.failed = UNKNOWN_ID), a list item that is not an int of one digit (failed stays
    0: the caller reads it), or where memory ran out (failed = NO_MEMORY)."""
    cdef Py_ssize_t i
    cdef uint64_t t
    cdef TokenSpan span
    cdef uint8_t* copied
    cdef uint8_t* stop                        # past it, dst has no room for a whole block
    cdef uint8_t* dst = out.room(out.data + out.size, 4 * (n - start), &stop)   # about
    cdef size_t block_bytes                                    # right for English; grows
    cdef size_t block = <size_t>pinned_block(&block_bytes) if any_id is object_ptr else 0
    if dst == NULL:
        return start
    for i in range(start, n):
        if any_id is object_ptr:
            if not _int_id(ids[i], block, block_bytes, &t):
                out.size = dst - out.data
                return i
        else:
            t = <uint64_t>ids[i]
        copied = _copy_short(arena, t, dst, stop)
        if copied != NULL:                    # (a local dst: no store-to-load chain)
            dst = copied
            continue
        if t >= <uint64_t>arena.n_vocab or arena.spans[t].length == ABSENT:
            out.size = dst - out.data
            out.failed = UNKNOWN_ID
            return i
        span = arena.spans[t]
        if dst + span.length > stop:
            dst = out.room(dst, span.length + 4 * (n - i), &stop)
            if dst == NULL:
                return i
        dst = _copy_token(arena, span, dst)
    out.size = dst - out.data
    return n


cdef inline bint _int_id(PyObject* item, size_t block, size_t block_bytes,
                         uint64_t* t) noexcept nogil:
    """The id of a list item read in place: one of the pinned ints (block) from its place,
    any other int of one digit from its digit (negative: an id no vocabulary has). False
    for anything else."""
    cdef long long value
    if <size_t>item - block < block_bytes:
        t[0] = (<size_t>item - block) >> BPE_INT_SHIFT
        return True
    if bpe_small_int(item, &value):
        t[0] = <uint64_t>value
        return True
    return False


cdef inline uint8_t* _copy_short(TokenArena arena, uint64_t t, uint8_t* dst,
                                 const uint8_t* stop) noexcept nogil:
    """The common case of the gather: id t is a token of up to COPY bytes, with room for it
    before stop. Its block copied to dst, and past the copy; else NULL (the general path)."""
    cdef uint8_t length
    if t < <uint64_t>arena.n_vocab:
        length = arena.short_length[t]
        if length and dst + length <= stop:
            memcpy(dst, arena.blocks + t * COPY, COPY)    # fixed size: no call
            return dst + length
    return NULL


cdef inline uint8_t* _copy_token(TokenArena arena, TokenSpan span, uint8_t* dst) noexcept nogil:
    """Copy a token's bytes to dst (with COPY bytes of slack after it); past the copy."""
    if span.length <= COPY:
        memcpy(dst, arena.arena + span.start, COPY)    # fixed size: no call
    else:
        memcpy(dst, arena.arena + span.start, span.length)
    return dst + span.length
