"""What the tests ask Linux about processes, from /proc: whether one runs, which descend from
another, and which holds the server's end of a TCP connection."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")


def alive(pid: int | None) -> bool:
    """Whether the process runs (a zombie, ended but not yet reaped, does not)."""
    try:
        return pid is not None and (PROC / str(pid) / "stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(") ", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
    return parents


def descendants(pid: int) -> set[int]:
    """Every running process below `pid`."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found and alive(child):
                found.add(child)
                todo.append(child)
    return found


def command_line(pid: int) -> list[str]:
    try:
        return (PROC / str(pid) / "cmdline").read_text().rstrip("\0").split("\0")
    except FileNotFoundError:
        return []


def _socket_inodes(server_port: int, client_port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        path = PROC / "net" / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if int(local.rsplit(":", 1)[1], 16) == server_port \
                    and int(remote.rsplit(":", 1)[1], 16) == client_port:
                inodes.add(f"socket:[{inode}]")
    return inodes


def connection_owner(server_port: int, client_port: int, pids: Iterable[int]) -> int | None:
    """Which of `pids` holds the server's end of the connection from `client_port` to
    `server_port` on this machine (the worker that accepted it)."""
    inodes = _socket_inodes(server_port, client_port)
    for pid in pids:
        try:
            handles = list((PROC / str(pid) / "fd").iterdir())
        except (FileNotFoundError, PermissionError):
            continue
        for handle in handles:
            try:
                if os.readlink(handle) in inodes:
                    return pid
            except OSError:
                continue
    return None
