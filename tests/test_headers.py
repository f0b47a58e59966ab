"""The C in bpe/include compiles clean under -Wall -Wextra -Werror, each header on its own
(so each includes what it uses), and its buffers leave glibc's malloc as they found it. The
kernels compile them with -Wall -Wextra too."""
import platform
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

import bpe

INCLUDE = Path(bpe.__file__).parent / "include"
HEADERS = sorted(INCLUDE.glob("*.h"))


def test_headers_are_there():
    assert {h.name for h in HEADERS} >= {"bpe_memory.h", "bpe_spare.h", "bpe_seqlock.h",
                                         "bpe_ints.h", "bpe_utf8.h", "bpe_piece_window.h",
                                         "bpe_hashing.h", "bpe_vectors.h", "bpe_close_gap.h",
                                         "bpe_unicode_tables.h"}


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++, as building bpe does")
@pytest.mark.parametrize("header", HEADERS, ids=lambda h: h.name)
def test_header_compiles_clean(header, tmp_path):
    source = tmp_path / "use.cpp"
    source.write_text(f'#include "{header.name}"\nint main() {{ return 0; }}\n')
    subprocess.run(["g++", "-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", "-c",
                    f"-I{INCLUDE}", f"-I{sysconfig.get_paths()['include']}", str(source),
                    "-o", str(tmp_path / "use.o")], check=True, capture_output=True, text=True)


BUFFERS = r"""
#include <malloc.h>
#include <string.h>
#include "bpe_spare.h"

int main() {
    void* data = NULL;
    size_t capacity = 0, need;
    for (need = 1000; need < ((size_t)6 << 20); need *= 3) {  /* from malloc's sizes */
        if (bpe_reserve(&data, &capacity, need / 3, need) != 0) return 2;  /* to mapped */
        memset(data, 1, need);
    }
    bpe_give_spare(BPE_SPARE_IDS, data, capacity);               /* kept, taken back, */
    data = bpe_take_spare(BPE_SPARE_IDS, &capacity);
    bpe_buffer_free(data, capacity);                              /* released */
    size_t before = mallinfo2().hblkhd;
    char* block = (char*)malloc((size_t)3 << 20);
    memset(block, 1, (size_t)3 << 20);
    size_t after = mallinfo2().hblkhd;
    free(block);
    return after > before ? 0 : 1;                  /* 1: the 3 MB block came from a heap */
}
"""


def _glibc_since(version: tuple[int, int]) -> bool:
    name, found = platform.libc_ver()
    return name == "glibc" and tuple(map(int, found.split(".")[:2])) >= version


@pytest.mark.skipif(shutil.which("g++") is None or not _glibc_since((2, 33)),
                    reason="needs g++ and glibc 2.33 or later (for mallinfo2)")
def test_a_big_buffer_released_leaves_mallocs_threshold(tmp_path):
    """A buffer of a megabyte or more is mapped by bpe_memory.h itself, so releasing one
    (6 MB here, grown from a few hundred bytes through the spare) does not raise glibc's
    threshold for mapping a block: a 3 MB malloc after it is still mapped, and goes back
    to the system when freed, instead of staying in a heap."""
    source = tmp_path / "buffers.cpp"
    source.write_text(BUFFERS)
    subprocess.run(["g++", "-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{INCLUDE}",
                    str(source), "-o", str(tmp_path / "buffers")],
                   check=True, capture_output=True, text=True)
    assert subprocess.run([str(tmp_path / "buffers")]).returncode == 0
