"""UTF-8 conversions of the kernels (bodies in _utf8.pyx, C in include/bpe_utf8.h)."""
from libc.stdint cimport uint8_t


cdef bint valid_utf8(const uint8_t* s, Py_ssize_t n) noexcept nogil
cdef object utf8_to_str(const uint8_t* s, Py_ssize_t n)
cdef uint8_t* str_to_utf8(int kind, const void* data, Py_ssize_t length, Py_ssize_t* n,
                          size_t* capacity) noexcept nogil
cdef void release_utf8(uint8_t* data, size_t capacity) noexcept nogil
