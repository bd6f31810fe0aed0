"""``python -m blazen.cli``: the same as the ``blazen`` command."""

from __future__ import annotations

import sys

from blazen.cli import main

if __name__ == "__main__":
    sys.exit(main())
