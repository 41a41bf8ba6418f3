"""`python -m local up`: kept as another name for `python -m choreo up`.

Starting everything means stocking the warehouse and serving the dashboard, which `local`
does not import; the composition root (`choreo`) does. This hands the command line over to it
in the same process (same pid and process group), without importing it.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    arguments = sys.argv[1:] if argv is None else argv
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "choreo", *arguments])


if __name__ == "__main__":
    main()
