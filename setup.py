"""Build the Cython kernels.

The character tables of the pre-tokenizer are generated first, from the installed `regex`,
and the precomputed tables of the bundled vocabularies (data/pretrained/<name>.tables,
their merges as ids: see bpe/pretrained.py), from the files beside them.
`BPE_DEBUG=1 pip install -e .` builds the kernels with bounds checks and wraparound on, for hunting
memory errors in the kernels; the default build turns them off (every such loop is covered by
a differential test against tests/reference.py).
`BPE_SANITIZE=1` builds them (in place; see .ci/sanitize) with AddressSanitizer and
UndefinedBehaviorSanitizer, unstripped; the Python that imports them needs libasan preloaded.
UBSan's checks stay recoverable: .ci/sanitize stops at the first report with
UBSAN_OPTIONS=halt_on_error=1 rather than building with -fno-sanitize-recover.
"""
import importlib.util
import os
import sys
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("BPE_DEBUG") == "1"
SANITIZE = os.environ.get("BPE_SANITIZE") == "1"
SANITIZER_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-O1", "-g"]
HERE = Path(__file__).parent


def write_unicode_tables() -> None:
    """Generate bpe/include/bpe_unicode_tables.h from the `regex` module installed for the build, so
    the native pre-tokenizer's character classes are that version's, code point by code
    point (pip installs the same latest `regex` for the build and for the package)."""
    spec = importlib.util.spec_from_file_location("_gen_unicode", HERE / "bpe" / "_gen_unicode.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    target = HERE / "bpe" / "include" / "bpe_unicode_tables.h"
    text = generator.render()
    if not target.exists() or target.read_text(encoding="ascii") != text:
        target.write_text(text, encoding="ascii")


def write_pretrained_tables() -> None:
    """Write data/pretrained/<name>.tables for each bundled vocabulary whose tables are
    missing or were made from other files (bpe.pretrained.write_tables), so that
    `Tokenizer.from_pretrained` loads arrays instead of deriving every merge in Python.
    bpe.formats and bpe.pretrained are loaded from their files alone: the package itself
    cannot be imported before its kernels are built."""
    names = ("bpe.formats", "bpe.pretrained")
    saved = {name: sys.modules.get(name) for name in names}
    try:
        for name in names:
            spec = importlib.util.spec_from_file_location(
                name, HERE / "bpe" / f"{name.split('.')[1]}.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module          # bpe.pretrained imports bpe.formats
            spec.loader.exec_module(module)
        written = sys.modules["bpe.pretrained"].write_tables(HERE / "data" / "pretrained")
        if written:
            print(f"bpe: precomputed the tables of {', '.join(written)}")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


write_unicode_tables()
write_pretrained_tables()
# One extension per kernel module; their C lives in bpe/include.
KERNELS = ["_pretokenize", "_count", "_merge", "_utf8", "_ids", "_piece_cache", "_merge_table",
           "_encode", "_decode"]

extensions = [
    Extension(
        f"bpe.{name}",
        [f"bpe/{name}.pyx"],
        include_dirs=[numpy.get_include(), "bpe/include"],
        language="c++",
        extra_compile_args=(["-O3", "-std=c++17", "-Wall", "-Wextra"]
                            + (["-O0", "-g"] if DEBUG else [])
                            + (SANITIZER_FLAGS if SANITIZE else [])),   # last -O wins
        # stripped: no debug info in the wheel (kept for the debug and sanitizer builds)
        extra_link_args=(SANITIZER_FLAGS if SANITIZE else [] if DEBUG else ["-s"]),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for name in KERNELS
]

# The kernels are independent: translated and compiled one per core.
JOBS = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count() or 1)

setup(
    options={"build_ext": {"parallel": JOBS}},
    ext_modules=cythonize(
        extensions,
        nthreads=JOBS,
        force=DEBUG,  # directives are not in Cython's timestamp check: regenerate for debug
        compiler_directives={
            "language_level": 3,
            "boundscheck": DEBUG,
            "wraparound": DEBUG,
            "initializedcheck": DEBUG,
            "cdivision": True,
        },
    )
)
