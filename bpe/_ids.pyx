# cython: language_level=3
"""Ids on their way out of the encode kernels: the growable id buffer, and the int objects
that encode's lists share.

- IdBuffer: a growable int32 array the encode kernels append to, turned into a NumPy array
  or a list of ints at the end.
- PinnedInts: the ints 0..n-1, side by side in one block as CPython keeps its own small
  ints, pinned (include/bpe_ints.h), so that a list holds them without counting references
  and is filled without the GIL (`fill_lists`). decode reads the id of such an int from its
  address (`pinned_block`). A block is freed once no table uses it and nothing holds its
  ints (see _IntBlock).
- track_lists: hands encode_strs' lists to the garbage collector once a batch is made.

NumPy is imported by to_numpy alone: encode's lists and decode need none of it.
"""
cimport cython
from libc.stdint cimport int32_t, uint16_t
from libc.string cimport memcpy
from libcpp.vector cimport vector

from bpe._memory cimport HUGE_FROM, bpe_advise_huge, buffer_reserve, zeroed_alloc, zeroed_free

cdef extern from "Python.h":
    ctypedef struct PyObject
    PyObject** PySequence_Fast_ITEMS(object items)
    ctypedef struct PyListObject:
        PyObject** ob_item
        Py_ssize_t allocated
    void Py_SET_SIZE(object ob, Py_ssize_t size)
    void* PyMem_Malloc(size_t n)
    void PyMem_Free(void* p)
    void PyObject_GC_Track(object op)
    bint PyObject_GC_IsTracked(object op)

cdef extern from "bpe_ints.h" nogil:
    enum: BPE_INT_SHIFT
    enum: BPE_OWN_LIST_ITEMS
    void bpe_pin(PyObject* value)
    Py_ssize_t bpe_int_refs(const char* block, size_t n, size_t handed_out)
    int bpe_gather_ints(const int32_t* ids, size_t n, char* block, size_t m, PyObject** items)

cdef extern from "bpe_spare.h" nogil:
    enum: BPE_SPARE_IDS
    void* bpe_take_spare(int kind, size_t* capacity)
    void bpe_give_spare(int kind, void* data, size_t capacity)


@cython.final
cdef class IdBuffer:
    """A growable int32 array the encode kernels write ids into. Its memory comes from,
    and goes back to, the thread's spare (include/bpe_spare.h).

    Attributes: data (the ids), size (how many), capacity (room, in ids).
    Thread-safety: one thread at a time."""

    def __dealloc__(self):
        if self.data != NULL:
            bpe_give_spare(BPE_SPARE_IDS, self.data, self.capacity * sizeof(int32_t))

    cdef int reserve(self, size_t extra) noexcept nogil:
        """Room for `extra` more ids; 0 on success, -1 when out of memory."""
        cdef size_t capacity
        cdef void* data
        if self.data == NULL:                  # first use: the thread's spare, if any
            self.data = <int32_t*>bpe_take_spare(BPE_SPARE_IDS, &capacity)
            self.capacity = capacity // sizeof(int32_t)
        if self.size + extra <= self.capacity:
            return 0
        data, capacity = self.data, self.capacity * sizeof(int32_t)
        if buffer_reserve(&data, &capacity, self.size * sizeof(int32_t),
                          (self.size + extra) * sizeof(int32_t)) != 0:
            return -1
        self.data, self.capacity = <int32_t*>data, capacity // sizeof(int32_t)
        return 0

    def append(self, int32_t token_id):
        if self.reserve(1) != 0:
            raise MemoryError("no memory for more ids")
        self.data[self.size] = token_id
        self.size += 1

    def __len__(self):
        return self.size

    def to_numpy(self, bint small=False):
        """The ids as int32, or as uint16 when `small` (the caller knows they fit)."""
        cdef size_t k, n = self.size
        cdef int32_t[::1] wide
        cdef uint16_t[::1] narrow
        import numpy as np

        if small:
            out = np.empty(n, dtype=np.uint16)
            narrow = out
            with nogil:
                for k in range(n):
                    narrow[k] = <uint16_t>self.data[k]
            return out
        out = np.empty(n, dtype=np.int32)
        wide = out
        if n:
            with nogil:
                memcpy(&wide[0], self.data, n * sizeof(int32_t))
        return out

    def to_list(self, ints):
        """The ids as a list of Python ints, each one the shared object ints[id], so that
        no int is made and no reference counted (see PinnedInts); the list is filled
        without the GIL: several times faster than NumPy's tolist."""
        cdef Py_ssize_t end = self.size
        cdef char keep = 0
        cdef list result = []
        fill_lists([result], self.data, &end, &keep, ints)
        return result

    def clear(self):
        self.size = 0


cdef char* _int_block = NULL       # the latest block of pinned ints, while it is not
cdef Py_ssize_t _block_ints = 0    # freed: decode reads the ids of its ints in place
cdef PyObject* _latest = NULL      # its _IntBlock while a table uses it (borrowed)
cdef list _retired = []            # (address, n, handed_out) of blocks no table uses, whose
                                   # ints something may still hold


@cython.final
cdef class _IntBlock:
    """One block of pinned ints, held by the PinnedInts that use it. When the last goes, the
    block is retired: freed once nothing holds its ints (a list, or anything that took one
    from a list: bpe_int_refs counts them), checked then and at each pinned_ints call (a
    list dropped later gives no sign).
    Where the references cannot be counted (Python 3.12+: pinned ints read as immortal),
    a retired block is kept, as small ints are."""

    def __dealloc__(self):
        global _latest
        if _latest == <PyObject*>self:
            _latest = NULL
        if self.data != NULL and _retired is not None:    # (None at interpreter exit)
            _retired.append((<size_t>self.data, self.n, self.handed_out))
            self.data = NULL
            _free_unheld()


cdef _free_unheld():
    """Free the retired blocks whose ints nothing holds."""
    global _int_block, _block_ints
    cdef char* block
    cdef list kept = []
    for address, n, handed_out in _retired:
        block = <char*><size_t>address
        if bpe_int_refs(block, n, handed_out) != 0:
            kept.append((address, n, handed_out))
            continue
        if block == _int_block:
            _int_block, _block_ints = <char*>NULL, 0
        zeroed_free(block, <size_t>n << BPE_INT_SHIFT)
    _retired[:] = kept


@cython.final
cdef class PinnedInts:
    """The ints 0..n-1 for encode's lists (made by pinned_ints), side by side in one block
    as CPython keeps its own small ints: id k at k << BPE_INT_SHIFT, each a byte copy of
    the int Python makes, pinned, so that a list holds them without counting references.

    Attributes: block (the ints), n (how many this table uses), owner (the block's owner).
    Thread-safety: read-only once made; the tables of a process share the latest block
    while one of them uses it."""

    def __len__(self):
        return self.n

    def __getitem__(self, Py_ssize_t k):
        if not 0 <= k < self.n:
            raise IndexError(f"int {k} is not in a table of {self.n}")
        return <object><PyObject*>(self.block + (k << BPE_INT_SHIFT))


def pinned_ints(Py_ssize_t n):
    """A PinnedInts of the ints 0..n-1: the latest block while a table uses it and it is
    large enough, else a new one (at least twice the size of the one in use, so that
    growing vocabularies make few). The block lives from mmap, so that freeing it (see
    _IntBlock) gives the memory back."""
    global _int_block, _block_ints, _latest
    cdef Py_ssize_t k, size, nbytes
    cdef char* block
    cdef object value
    cdef _IntBlock owner
    if _retired:                       # lists dropped since: their blocks may be unheld
        _free_unheld()
    if _latest != NULL and (<_IntBlock><object>_latest).n >= n:
        owner = <_IntBlock><object>_latest
    else:
        size = max(n, 1, 2 * (<_IntBlock><object>_latest).n if _latest != NULL else 0)
        block = <char*>zeroed_alloc(<size_t>size << BPE_INT_SHIFT)
        if block == NULL:
            raise MemoryError(f"no memory for {size} ints")
        try:
            for k in range(size):
                value = k
                nbytes = value.__sizeof__()
                if nbytes > (1 << BPE_INT_SHIFT):
                    raise OverflowError(f"the int {k} takes {nbytes} bytes, more than "
                                        f"{1 << BPE_INT_SHIFT}")
                memcpy(block + (k << BPE_INT_SHIFT), <PyObject*>value, nbytes)
                bpe_pin(<PyObject*>(block + (k << BPE_INT_SHIFT)))
        except BaseException:
            zeroed_free(block, <size_t>size << BPE_INT_SHIFT)   # no int of it was handed out
            raise
        owner = _IntBlock.__new__(_IntBlock)
        owner.data, owner.n = block, size
        _int_block, _block_ints, _latest = block, size, <PyObject*>owner
    cdef PinnedInts ints = PinnedInts.__new__(PinnedInts)
    ints.owner, ints.block, ints.n = owner, owner.data, n
    return ints


cdef char* pinned_block(size_t* n_bytes) noexcept nogil:
    """The latest block of pinned ints and its size in bytes (an int's id is its offset
    >> BPE_INT_SHIFT); NULL and 0 before the first."""
    n_bytes[0] = <size_t>_block_ints << BPE_INT_SHIFT
    return _int_block


def track_lists(list lists):
    """Have the garbage collector track the lists not yet tracked (encode_strs').

    A batch makes a list per text, and every few hundred new lists the collector walks the
    young ones, each item of each: a tenth of a batch's time in a profile, under the GIL,
    while the lists were made tracked. A list of ints being built is in no cycle; it is
    tracked before the caller sees it, as any list is."""
    for item in lists:
        if type(item) is list and not PyObject_GC_IsTracked(item):
            PyObject_GC_Track(item)


cdef fill_lists(list lists, const int32_t* ids, const Py_ssize_t* ends, const char* skipped,
                object ints):
    """Fill lists[k] (empty lists) with ints[id] for the ids in [ends[k - 1], ends[k]), as
    IdBuffer.to_list does, without the GIL.

    Each list's items are allocated here with PyMem_Malloc, filled, and only then given to
    the list (as its ob_item, which list_dealloc frees with PyMem_Free): a list stays empty,
    and so safe for the garbage collector to walk, until its items are all set. PyList_New
    takes them from calloc instead, which zeroes a block the heap hands back (a big list's,
    freed by the list before) only for every word to be overwritten: 24 MB for the 3 million
    ids of 10 MB of text; encoding it to a list took 3-4% longer. (A free-threaded build's
    lists keep their items behind a header: there each list is grown with Nones, which are
    overwritten; see BPE_OWN_LIST_ITEMS.)"""
    if type(ints) is not PinnedInts:
        raise TypeError(f"ints must be a PinnedInts (see pinned_ints), got {type(ints).__name__}")
    cdef Py_ssize_t k, size, n = len(lists), m = (<PinnedInts>ints).n, start = 0
    cdef _IntBlock owner = (<PinnedInts>ints).owner
    cdef char* block = (<PinnedInts>ints).block
    cdef vector[PyObject**] items
    cdef int status = 0
    items.resize(n)                            # NULL: skipped, or no ids
    for k in range(n):
        size = ends[k] - start
        start = ends[k]
        if skipped[k] or size == 0:
            continue
        if not BPE_OWN_LIST_ITEMS:
            lists[k][:] = [None] * size        # (None is immortal there: overwritten freely)
            items[k] = PySequence_Fast_ITEMS(lists[k])
            continue
        items[k] = <PyObject**>PyMem_Malloc(size * sizeof(PyObject*))
        if items[k] == NULL:
            _free_items(items)
            raise MemoryError(f"no memory for a list of {size} ids")
    start = 0
    with nogil:
        for k in range(n):
            size = ends[k] - start
            if items[k] != NULL:
                if size * sizeof(PyObject*) >= HUGE_FROM:
                    # Fresh pages (a first big list is mapped anew) fault in 2 MB at a
                    # time as they are written, not 4 KB (a fault costs microseconds: 8
                    # thousand of them, a sixth of encoding 10 MB of text to a list)
                    bpe_advise_huge(items[k], size * sizeof(PyObject*))
                status = bpe_gather_ints(ids + start, size, block, m, items[k])
                if status != 0:
                    break
            start = ends[k]
    if status != 0:
        _free_items(items)                     # uncounted: nothing to drop
        raise ValueError(f"an id has no int in a table of {m}")
    start = 0
    for k in range(n):
        size = ends[k] - start
        start = ends[k]
        if items[k] != NULL and BPE_OWN_LIST_ITEMS:
            (<PyListObject*>lists[k]).ob_item = items[k]
            (<PyListObject*>lists[k]).allocated = size
            Py_SET_SIZE(lists[k], size)
        if items[k] != NULL:
            owner.handed_out += size           # what the block counts as held (see
                                               # bpe_int_refs)


cdef void _free_items(vector[PyObject**]& items) noexcept:
    """Free the items fill_lists made (NULL: none); a list's own are left to it."""
    if BPE_OWN_LIST_ITEMS:
        for k in range(items.size()):
            PyMem_Free(items[k])
