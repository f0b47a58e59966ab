/* The int objects of encode's lists, and reading ints in place for decode.

   Encode's lists hold the ints of a PinnedInts block (bpe/_ids.pyx): one block of int
   objects, id k at k << BPE_INT_SHIFT, each pinned with a reference count no list can bring
   down to zero (on Python 3.12+ it reads as immortal). A list then takes references without
   counting them, so it can be filled without the GIL; and decode reads the id of such an
   int from its address. */
#ifndef BPE_INTS_H
#define BPE_INTS_H

#include <Python.h>
#include <stdint.h>

#define BPE_INT_SHIFT 5
#define BPE_PINNED_COUNT (PY_SSIZE_T_MAX >> 2)

static inline void bpe_pin(PyObject* value) {
#ifndef Py_GIL_DISABLED
    Py_SET_REFCNT(value, BPE_PINNED_COUNT);
#else
    (void)value;
#endif
}

/* How many references to the n ints of a block are held now, given how many uncounted
   ones lists were handed (fill_lists): a list that drops one takes one from its count,
   any other holder adds one and takes it back, so held = handed_out + the sum of (count -
   pin). 0: nothing holds them. -1 where that cannot be known: from Python 3.12 a pinned
   count reads as immortal (no holder changes it), and without the GIL counts are split. */
static inline Py_ssize_t bpe_int_refs(const char* block, size_t n, size_t handed_out) {
#if PY_VERSION_HEX >= 0x030C0000 || defined(Py_GIL_DISABLED)
    (void)block;
    (void)n;
    (void)handed_out;
    return -1;
#else
    Py_ssize_t held = (Py_ssize_t)handed_out;
    for (size_t k = 0; k < n; k++)
        held += Py_REFCNT((PyObject*)(block + (k << BPE_INT_SHIFT))) - BPE_PINNED_COUNT;
    return held;
#endif
}

/* Whether fill_lists gives a list an items array it allocated (PyMem_Malloc, as list_dealloc
   frees it with PyMem_Free): not on a free-threaded build, whose lists keep their items
   behind a header of their own; there a list is grown first, and its items overwritten. */
#ifdef Py_GIL_DISABLED
#define BPE_OWN_LIST_ITEMS 0
#else
#define BPE_OWN_LIST_ITEMS 1
#endif

/* Point items[k] at the int of ids[k] in the block; -2 for an id past its m ints. */
static inline int bpe_gather_ints(const int32_t* ids, size_t n, char* block, size_t m,
                                  PyObject** items) {
    for (size_t k = 0; k < n; k++) {
        uint32_t t = (uint32_t)ids[k];
        if (t >= m) return -2;
        items[k] = (PyObject*)(block + ((size_t)t << BPE_INT_SHIFT));
#ifdef Py_GIL_DISABLED
        Py_INCREF(items[k]);  // atomic there, and no count is pinned
#endif
    }
    return 0;
}

/* The value of an int that fits one digit (every token id does), read in place; 0 for any
   other object, which takes the general path. */
static inline int bpe_small_int(PyObject* o, long long* value) {
    if (!PyLong_CheckExact(o)) return 0;
#if PY_VERSION_HEX >= 0x030C0000
    if (!PyUnstable_Long_IsCompact((PyLongObject*)o)) return 0;
    *value = (long long)PyUnstable_Long_CompactValue((PyLongObject*)o);
#else
    Py_ssize_t size = Py_SIZE(o);
    if (size == 0)
        *value = 0;
    else if (size == 1)
        *value = (long long)((PyLongObject*)o)->ob_digit[0];
    else
        return 0;
#endif
    return 1;
}

#endif
