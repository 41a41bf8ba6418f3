"""What a tree of processes costs in memory, as the machine pays for it: the proportional set
size (PSS) of a process and all its descendants, where a page shared by several of them
(forked from one template, say) counts once in all. Linux only (/proc)."""

from __future__ import annotations

from pathlib import Path


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descended from it."""
    return [pid, *(descendant for child in _children(pid) for descendant in process_tree(child))]


def pss_kib(pid: int) -> int:
    """One process's PSS in KiB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_mib(pid: int) -> float:
    """PSS of `pid` and its descendants, in MiB."""
    return sum(pss_kib(member) for member in process_tree(pid)) / 1024
