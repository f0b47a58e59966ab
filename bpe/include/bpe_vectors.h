/* Growth of std::vector that reports running out of memory (-1) instead of throwing: the
   training loops run without the GIL in functions that cannot raise, so the failure is
   passed up and the Python entry point raises MemoryError. */
#ifndef BPE_VECTORS_H
#define BPE_VECTORS_H

#include <Python.h>
#include <stdint.h>
#include <vector>

/* push_back (the merge loop's lists and heap). */
template <typename T>
static inline int bpe_push(std::vector<T>& v, const T& x) noexcept {
    try { v.push_back(x); return 0; } catch (...) { return -1; }
}

/* The counter's growth: one more piece's bytes and its end (-1: nothing changed). */
static inline int bpe_append_piece(std::vector<uint8_t>& text, std::vector<int64_t>& starts,
                                   const uint8_t* s, Py_ssize_t n) noexcept {
    size_t n_text = text.size(), n_pieces = starts.size();
    try {
        text.insert(text.end(), s, s + n);
        starts.push_back((int64_t)text.size());
        return 0;
    } catch (...) {
        text.resize(n_text);
        starts.resize(n_pieces);
        return -1;
    }
}

#endif
