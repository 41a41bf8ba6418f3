"""The memory figure of a process tree: every descendant counted, shared pages once."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from local.memory import process_tree, tree_pss_mib

HOLDS_MIB = 64


def test_a_tree_counts_its_descendants_memory() -> None:
    before = tree_pss_mib(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", (
        f"import sys, time; held = bytearray({HOLDS_MIB} << 20); "
        "held[::4096] = b'x' * len(held[::4096]); print('ready', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        assert child.pid in process_tree(os.getpid())
        assert tree_pss_mib(os.getpid()) - before > HOLDS_MIB * 0.9
    finally:
        child.kill()
        child.wait()
    time.sleep(0.1)
    assert child.pid not in process_tree(os.getpid())
