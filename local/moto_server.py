"""moto's server, with one speed-up for the embedded AWS.

moto 5.2.5 builds a fresh JSONPath parser (a PLY grammar) eight times for every target of
every event put on a bus, whether or not the target transforms its input: about a fifth of
the embedded AWS's time under load went there. Parsing is a pure function of the path, so
here it is memoised. Pinned to the moto version it was measured on, and checked by
tests/local/test_moto_server.py, which fails loudly if moto stops parsing this way.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import jsonpath_ng.ext
import moto

MOTO_VERSION = "5.2.5"


def memoise_jsonpath() -> None:
    if getattr(jsonpath_ng.ext.parse, "cache_info", None):
        return
    parse: Any = jsonpath_ng.ext.parse
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=1024)(parse)


def main() -> None:
    if moto.__version__ == MOTO_VERSION:
        memoise_jsonpath()
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
