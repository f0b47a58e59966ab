"""Start-up: `import bpe` is lazy (no NumPy, regex, multiprocessing or compiled kernel until
a name needs one), and every module imports where POSIX-only modules are missing.

Each check runs in a fresh interpreter, since this one has imported everything already.
No timings here (bench/startup.py measures them): only which modules get imported.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import bpe

PACKAGE = Path(bpe.__file__).resolve().parent
HEAVY = ("numpy", "regex", "multiprocessing", "concurrent.futures.process")


def run_fresh(code: str) -> str:
    """Run code in a fresh interpreter; its stdout, or fail with its stderr."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr}"
    return done.stdout


def test_every_module_imports_without_posix_only_modules():
    """As on Windows: no `resource`, `fcntl` or `termios`, no os.register_at_fork."""
    modules = sorted(f"bpe.{p.stem}" for p in PACKAGE.glob("*.py")
                     if p.stem not in ("__init__", "__main__"))
    assert {"bpe.atomic", "bpe.train", "bpe.tokenizer", "bpe.cli"} <= set(modules)
    out = run_fresh(f"""
        import contextlib, importlib, io, os, sys, tempfile
        for name in ("resource", "fcntl", "termios"):
            sys.modules[name] = None   # `import resource` now raises ImportError
        del os.register_at_fork
        import bpe
        for name in {modules!r}:
            importlib.import_module(name)
        sys.argv = ["bpe", "--version"]
        with contextlib.redirect_stdout(io.StringIO()) as version:
            try:
                importlib.import_module("bpe.__main__")
            except SystemExit as e:
                assert e.code in (0, None), e.code
        assert bpe.__version__ in version.getvalue(), version.getvalue()

        # What the guarded code does without them: training reports without peak RSS,
        # files are still written atomically.
        assert sys.modules["bpe.train"]._peak_rss_mb() is None
        with contextlib.redirect_stderr(io.StringIO()) as err:
            tok = bpe.train_from_iterator(["low lower lowest newer wider"] * 20, 260, progress=True)
        assert "merge:" in err.getvalue() and "peak RSS" not in err.getvalue(), err.getvalue()
        with tempfile.TemporaryDirectory() as folder:
            tok.save(folder)
            assert bpe.Tokenizer.load(folder).encode("lowest") == tok.encode("lowest")
        print("ok", len(sys.modules))
    """)
    assert out.startswith("ok")


def test_import_bpe_is_lazy():
    out = run_fresh(f"""
        import sys
        before = set(sys.modules)
        import bpe
        new = sorted(set(sys.modules) - before)
        heavy = [m for m in {HEAVY!r} if m in sys.modules]
        assert not heavy, f"import bpe imported {{heavy}}"
        ours = [m for m in new if m.split(".")[0] == "bpe"]
        assert ours == ["bpe"], f"import bpe imported {{ours}}"   # no kernel, no submodule

        assert isinstance(bpe.__version__, str) and bpe.__version__
        names = dir(bpe)
        assert set(bpe.__all__) <= set(names) and "__version__" in names
        assert "numpy" not in sys.modules   # dir() imports nothing

        from bpe import Tokenizer
        assert Tokenizer is bpe.Tokenizer and Tokenizer.__module__ == "bpe.tokenizer"
        tok = bpe.train_from_iterator(iter(["hello hello world"] * 5), 258, progress=False)
        assert isinstance(tok, Tokenizer)
        assert tok.decode(tok.encode("hello world")) == "hello world"
        for name in bpe.__all__:
            getattr(bpe, name)
        assert callable(bpe.train) and bpe.train.__module__ == "bpe.train"
        try:
            bpe.no_such_name
        except AttributeError as e:
            assert "no_such_name" in str(e)
        else:
            raise AssertionError("bpe.no_such_name did not raise AttributeError")
        print("ok")
    """)
    assert out.startswith("ok")


def test_bpe_train_stays_the_function():
    """Importing the submodule bpe.train first must not leave bpe.train the module."""
    out = run_fresh("""
        from bpe.train import learn_merges
        import bpe
        import bpe.train
        assert callable(bpe.train) and bpe.train.__name__ == "train", bpe.train
        assert bpe.formats.__name__ == "bpe.formats"   # submodules reachable as before
        print("ok")
    """)
    assert out.startswith("ok")


def test_encode_and_cli_need_no_regex_or_processes():
    """A named pattern encodes without `regex`; nothing on that path (nor `bpe --version`)
    brings in multiprocessing."""
    out = run_fresh(f"""
        import contextlib, io, sys
        import bpe.cli
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                bpe.cli.main(["--version"])
            except SystemExit:
                pass
        assert "numpy" not in sys.modules, "bpe --version imported numpy"
        tok = bpe.train_from_iterator(iter(["the cat sat on the mat"] * 5), 260, progress=False)
        assert tok.decode(tok.encode("the cat")) == "the cat"
        heavy = [m for m in {HEAVY!r} if m in sys.modules and m != "numpy"]
        assert not heavy, f"training on str and encoding imported {{heavy}}"
        print("ok")
    """)
    assert out.startswith("ok")


def test_loading_and_encoding_need_no_numpy():
    """Loading each bundled vocabulary, pickling tokenizers (bundled, and from tables),
    building one from a vocabulary, encode, encode_batch (on threads too) and decode of
    lists and tuples import no NumPy; encode_to_numpy still works after all that."""
    out = run_fresh("""
        import pickle, sys
        import bpe

        def numpy_free(step):
            assert "numpy" not in sys.modules, f"{step} imported numpy"

        text = "Hello world, the tokenizer is ready. <|endoftext|> ünïcödé 😀" * 3
        for name in ("gpt2", "cl100k_base", "o200k_base", "r50k_base"):
            tok = bpe.Tokenizer.from_pretrained(name)
            numpy_free(f"from_pretrained({name!r})")
            assert pickle.loads(pickle.dumps(tok)) is tok
            ids = tok.encode(text, allowed_special="all")
            assert tok.encode_ordinary(text) != ids
            batch = tok.encode_batch([text, "abc"] * 8, num_threads=2, allowed_special="all")
            assert batch[0] == ids and tok.encode_batch([text], num_threads=1,
                                                        disallowed_special=()) != [ids]
            assert tok.decode(ids) == text and tok.decode_bytes(tuple(ids)) == text.encode()
            assert tok.decode(iter(ids)) == text and repr(tok).startswith("Tokenizer(")
            numpy_free(f"{name}: encode, encode_batch, decode")

        small = bpe.Tokenizer({i: bytes([i]) for i in range(256)} | {256: b"he", 257: b"hel"},
                              [(b"h", b"e"), (b"he", b"l")], ["<|endoftext|>"])
        again = pickle.loads(pickle.dumps(small))       # pickled as its tables
        assert again.encode("hello<|endoftext|>") == [257, 108, 111, 258]
        assert again.merges == small.merges and again.vocab == small.vocab
        numpy_free("a tokenizer from a vocabulary, pickled")

        array = tok.encode_to_numpy(text, allowed_special="all")
        assert "numpy" in sys.modules and array.tolist() == ids
        assert tok.decode(array) == text
        print("ok")
    """)
    assert out.startswith("ok")
