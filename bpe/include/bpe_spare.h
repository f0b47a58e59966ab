/* One spare buffer per kind and thread, kept from one call for the next.

   A fresh buffer of many megabytes costs a page fault per 4 KB on first touch, about as
   much as the work done in it; so each thread keeps its last buffer of each kind (up to
   64 MB) and the next call starts from it. Each kind is taken and given back by one
   module (ids: _ids, a str's UTF-8: _utf8, decoded bytes: _decode); the table is static,
   so each module that includes this header has its own. */
#ifndef BPE_SPARE_H
#define BPE_SPARE_H

#include <stdlib.h>

#include "bpe_memory.h"

enum { BPE_SPARE_IDS, BPE_SPARE_TEXT, BPE_SPARE_DECODE, BPE_N_SPARES };

struct BpeSpare {
    void* data = nullptr;
    size_t capacity = 0;  // bytes
    ~BpeSpare() { bpe_buffer_free(data, capacity); }
};

static thread_local BpeSpare bpe_spares[BPE_N_SPARES];

/* The thread's spare of this kind (NULL and 0 if none), which it no longer holds. */
static inline void* bpe_take_spare(int kind, size_t* capacity) {
    BpeSpare& spare = bpe_spares[kind];
    void* data = spare.data;
    *capacity = spare.capacity;
    spare.data = nullptr;
    spare.capacity = 0;
    return data;
}

/* Keep data as the thread's spare of this kind, or free it. */
static inline void bpe_give_spare(int kind, void* data, size_t capacity) {
    BpeSpare& spare = bpe_spares[kind];
    if (spare.data == nullptr && capacity <= ((size_t)64 << 20)) {
        spare.data = data;
        spare.capacity = capacity;
    } else {
        bpe_buffer_free(data, capacity);
    }
}

#endif
