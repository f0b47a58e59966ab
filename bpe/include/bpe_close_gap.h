/* Move a[from + 1 .. to) down by one place: a few items, where a call to memmove (which
   compilers make of such a loop; the empty asm hides the index from them) costs more than
   the move. merge_short closes the gap a merge leaves with it. */
#ifndef BPE_CLOSE_GAP_H
#define BPE_CLOSE_GAP_H

#include <Python.h>

template <typename T>
static inline void bpe_close_gap(T* a, Py_ssize_t from, Py_ssize_t to) {
    for (Py_ssize_t i = from; i + 1 < to; i++) {
        __asm__("" : "+r"(i));
        a[i] = a[i + 1];
    }
}

#endif
