"""The C in bpe/include compiles clean under -Wall -Wextra -Werror, each header on its own
(so each includes what it uses). The kernels compile them with -Wall -Wextra too."""
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
