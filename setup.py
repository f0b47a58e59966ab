"""Build the Cython kernels.

`BPE_DEBUG=1 pip install -e .` builds them with bounds checks and wraparound on, for hunting
memory errors in the kernels; the default build turns them off (every such loop is covered by
a differential test against tests/reference.py).
"""
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("BPE_DEBUG") == "1"
KERNELS = ["_pretokenize", "_count", "_merge", "_encode"]

extensions = [
    Extension(
        f"bpe.{name}",
        [f"bpe/{name}.pyx"],
        include_dirs=[numpy.get_include(), "bpe"],
        language="c++",
        extra_compile_args=["-O3", "-std=c++17"] + (["-O0", "-g"] if DEBUG else []),
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for name in KERNELS
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": DEBUG,
            "wraparound": DEBUG,
            "initializedcheck": DEBUG,
            "cdivision": True,
        },
    )
)
