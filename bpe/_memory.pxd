"""Huge pages for the big tables and buffers, and the one growth rule for buffers: declared
here, written in include/bpe_memory.h (which says why). Release tables with free(), except
zeroed_alloc's (zeroed_free), and buffers with buffer_free and their capacity."""

cdef extern from "bpe_memory.h" nogil:
    size_t HUGE_FROM "BPE_HUGE_FROM"
    void bpe_advise_huge(void* p, size_t size)
    void* table_alloc "bpe_table_alloc"(size_t size, int fill)
    void* zeroed_alloc "bpe_zeroed_alloc"(size_t size)
    void zeroed_free "bpe_zeroed_free"(void* p, size_t size)
    void buffer_free "bpe_buffer_free"(void* data, size_t capacity)
    int buffer_reserve "bpe_reserve"(void** data, size_t* capacity, size_t used, size_t needed)
