#!/usr/bin/python3
"""Training pipeline entry point: `training/cerebro.py COMMAND ...` is
`python3 -m cerebro_train COMMAND ...` run from training/ (docs/training.md)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cerebro_train.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
