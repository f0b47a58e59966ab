"""Stub for the compiled module bpe._utf8 (source: _utf8.pyx).

It has no Python-visible API: its functions are cdef, cimported by _encode and _decode.
"""
