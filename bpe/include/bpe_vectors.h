/* Growth of std::vector that reports running out of memory (-1) instead of throwing: the
   training loops run without the GIL in functions that cannot raise, so the failure is
   passed up and the Python entry point raises MemoryError. */
#ifndef BPE_VECTORS_H
#define BPE_VECTORS_H

#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
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

/* The merge loop's list of the words a pair was seen in: 16 bytes, the first two words
   held inline (most pairs are seen in one or two words: no allocation for them), more in
   a buffer that doubles. Zeroed is empty. */
typedef struct {
    union {
        int32_t* heap;
        int32_t local[2];
    } u;
    int32_t size;
    int32_t cap;        /* 0: the words are in u.local */
} bpe_words;

static inline const int32_t* bpe_words_data(const bpe_words* v) {
    return v->cap ? v->u.heap : v->u.local;
}

static inline int32_t bpe_words_back(const bpe_words* v) {
    return bpe_words_data(v)[v->size - 1];
}

/* Append w; -1 when out of memory (v unchanged). */
static inline int bpe_words_push(bpe_words* v, int32_t w) {
    if (v->cap == 0) {
        if (v->size < 2) {
            v->u.local[v->size++] = w;
            return 0;
        }
        int32_t* p = (int32_t*)malloc(8 * sizeof(int32_t));
        if (!p) return -1;
        p[0] = v->u.local[0];
        p[1] = v->u.local[1];
        v->u.heap = p;
        v->cap = 8;
    } else if (v->size == v->cap) {
        if (v->cap > INT32_MAX / 2) return -1;
        int32_t* p = (int32_t*)realloc(v->u.heap, 2 * (size_t)v->cap * sizeof(int32_t));
        if (!p) return -1;
        v->u.heap = p;
        v->cap *= 2;
    }
    v->u.heap[v->size++] = w;
    return 0;
}

static inline void bpe_words_free(bpe_words* v) {
    if (v->cap) free(v->u.heap);
    v->size = v->cap = 0;
}

#endif
