"""Run the command line: python -m bpe."""
import sys

from bpe.cli import main

sys.exit(main())
