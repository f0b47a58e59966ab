"""Stub for the compiled module bpe._pretokenize (source: _pretokenize.pyx)."""

from typing import Final

PATTERN_IDS: Final[dict[str, int]]
"""{"gpt2": 0, "cl100k": 1, "o200k": 2, "llama3": 3, "qwen2": 4, "deepseek_v3": 5}: the
natively matched patterns and their ids."""

def pieces(text: str, pattern_id: int, windows: bool = True) -> list[str]: ...
def windows_work() -> bool: ...
def count(text: str, pattern_id: int) -> int: ...
