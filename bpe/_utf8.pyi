"""Stub for the compiled module bpe._utf8 (source: _utf8.pyx).

Its kernels are cdef, cimported by _encode and _decode; find_listed serves hf_pipeline.
"""

def find_listed(text: str, listed: bytes, start: int = 0) -> int: ...
