"""History kept where AWS keeps it: on disk, with an index and the recently used in memory.

moto keeps every DynamoDB item and every CloudWatch Logs stream as a graph of Python objects:
an item of ~1.3 KB on the wire cost ~3.2 KB in memory, and each event the log group keeps
(EventBridge writes each to a stream of its own) ~3 KB. That was the embedded AWS's growth,
~50 KiB an order, for as long as it ran. `SpilledMapping` stands in for the dicts that hold
them (`Table.items`, `LogGroup.streams`): a value lives in memory while it is in use (the
most recent `RECENT` of each mapping) and otherwise as a pickle in one append-only file,
found again through an index of key → offset. The file is unlinked as soon as it is made:
the history is as ephemeral as moto's, and the disk gives its space back when the process
ends.

moto gets a value and then changes it in place (UpdateItem, PutLogEvents), so a value comes
back to memory when it is got and is written out again only when it falls out of the recent
ones, and only if it changed. Every change moto makes happens under the mapping's lock
(`DYNAMODB_LOCK`, `LOGS_LOCK`, held by each operation that gets and then changes), and a value
is only written out under it: no change is ever made to a copy that was already written.
Iterating (Scan, Query, DescribeLogStreams, FilterLogEvents) reads values without keeping
them: readers do not change what they read.
"""

from __future__ import annotations

import functools
import io
import os
import pickle
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

# How many values of each mapping stay in memory once used: the orders in flight touch a few
# dozen items of each table; a transaction touches at most 100. CHOREO_AWS_RECENT=1 writes
# out everything but the last value used: a stress test of the changes made in place.
RECENT = int(os.environ.get("CHOREO_AWS_RECENT", "512"))

# A reference into the file: the offset in the high bits, the length in the low ones.
_LENGTH_BITS = 32
_LENGTH_MASK = (1 << _LENGTH_BITS) - 1


def history_directory() -> Path:
    """Where the file lives: the project's cache (`CHOREO_CACHE_DIR`), a disk, rather than a
    temporary directory that may itself be memory."""
    root = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("CHOREO_CACHE_DIR", str(root / ".cache"))) / "aws-history"


class HistoryFile:
    """An append-only file of blobs, unlinked as soon as it is opened."""

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._fd: int | None = None
        self._end = 0
        self._lock = threading.Lock()

    def _opened(self) -> int:
        if self._fd is None:
            directory = self._directory or history_directory()
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory, prefix="history-") as handle:
                self._fd = os.dup(handle.fileno())
        return self._fd

    def append(self, blob: bytes) -> int:
        with self._lock:
            fd = self._opened()
            offset = self._end
            os.pwrite(fd, blob, offset)
            self._end += len(blob)
        return (offset << _LENGTH_BITS) | len(blob)

    def read(self, ref: int) -> bytes:
        return os.pread(self._opened(), ref & _LENGTH_MASK, ref >> _LENGTH_BITS)

    @property
    def size(self) -> int:
        """Bytes written so far, kept or superseded."""
        return self._end


HISTORY = HistoryFile()


class _OwnerPickler(pickle.Pickler):
    """Pickles a value that refers back to the object holding the mapping (a log stream to its
    group) by reference, not by copy."""

    def __init__(self, file: io.BytesIO, owner: object) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.owner = owner

    def persistent_id(self, obj: object) -> str | None:
        return "owner" if obj is self.owner else None


class _OwnerUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, owner: object) -> None:
        super().__init__(file)
        self.owner = owner

    def persistent_load(self, pid: Any) -> object:
        if pid != "owner":
            raise pickle.UnpicklingError(f"unknown reference {pid!r}")
        return self.owner


def _same(key: Any) -> Any:
    return key


class SpilledMapping(MutableMapping[Any, Any]):
    """A dict whose values live in `file` once they are no longer recent.

    `pack_key`/`unpack_key` turn a key into what the index keeps and back (a DynamoDB key is
    a `DynamoType`; the index keeps its string). `default_factory` makes a missing key's
    value on `[]`, as `collections.defaultdict` does. `owner` is pickled by reference.
    `note` says something small of a value as it is written out, kept in memory beside its
    reference (`noted`): what the TTL sweep needs, without reading every item back. A note
    costs memory for as long as the value is kept, so it should be one small object (a
    float, not a tuple), and `None` for nothing worth noting (then none is kept)."""

    def __init__(self, lock: threading.RLock, *, file: HistoryFile | None = None,
                 default_factory: Callable[[], Any] | None = None, owner: object = None,
                 pack_key: Callable[[Any], Any] = _same, unpack_key: Callable[[Any], Any] = _same,
                 recent: int | None = None, note: Callable[[Any], Any] | None = None) -> None:
        self.lock = lock
        self.file = HISTORY if file is None else file
        self.default_factory = default_factory
        self.owner = owner
        self.pack_key = pack_key
        self.unpack_key = unpack_key
        self.recent = RECENT if recent is None else recent
        self.note = note
        # packed key → [value, the blob it was read from or None if new, that blob's ref]
        self._live: OrderedDict[Any, list[Any]] = OrderedDict()
        # packed key → ref, for the values not in `_live`
        self._refs: dict[Any, int] = {}
        # packed key → what `note` said of the value when it was written out
        self._notes: dict[Any, Any] = {}

    # -- the file

    def _dumps(self, value: Any) -> bytes:
        if self.owner is None:
            return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        buffer = io.BytesIO()
        _OwnerPickler(buffer, self.owner).dump(value)
        return buffer.getvalue()

    def _loads(self, blob: bytes) -> Any:
        if self.owner is None:
            return pickle.loads(blob)
        return _OwnerUnpickler(io.BytesIO(blob), self.owner).load()

    def _settle(self) -> None:
        """Write out what is no longer recent, if it changed since it was read."""
        while len(self._live) > self.recent:
            key, (value, blob, ref) = self._live.popitem(last=False)
            fresh = self._dumps(value)
            self._refs[key] = ref if fresh == blob else self.file.append(fresh)
            note = None if self.note is None else self.note(value)
            if note is not None:
                self._notes[key] = note

    def _peek(self, packed: Any) -> Any:
        entry = self._live.get(packed)
        if entry is not None:
            return entry[0]
        return self._loads(self.file.read(self._refs[packed]))

    # -- the mapping

    def __getitem__(self, key: Any) -> Any:
        packed = self.pack_key(key)
        with self.lock:
            entry = self._live.get(packed)
            if entry is not None:
                self._live.move_to_end(packed)
                return entry[0]
            ref = self._refs.pop(packed, None)
            self._notes.pop(packed, None)
            if ref is None:
                if self.default_factory is None:
                    raise KeyError(key)
                value = self.default_factory()
                self._live[packed] = [value, None, None]
            else:
                blob = self.file.read(ref)
                value = self._loads(blob)
                self._live[packed] = [value, blob, ref]
            self._settle()
            return value

    def __setitem__(self, key: Any, value: Any) -> None:
        packed = self.pack_key(key)
        with self.lock:
            self._refs.pop(packed, None)
            self._notes.pop(packed, None)
            self._live[packed] = [value, None, None]
            self._live.move_to_end(packed)
            self._settle()

    def __delitem__(self, key: Any) -> None:
        packed = self.pack_key(key)
        with self.lock:
            self._notes.pop(packed, None)
            if self._live.pop(packed, None) is None and self._refs.pop(packed, None) is None:
                raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        packed = self.pack_key(key)
        with self.lock:
            return packed in self._live or packed in self._refs

    def __len__(self) -> int:
        return len(self._live) + len(self._refs)

    def _packed_keys(self) -> list[Any]:
        with self.lock:
            return [*self._refs, *self._live]

    def __iter__(self) -> Iterator[Any]:
        return (self.unpack_key(packed) for packed in self._packed_keys())

    def peek(self, key: Any, default: Any = None) -> Any:
        """The value for `key`, read without making it recent: for those who only look."""
        packed = self.pack_key(key)
        with self.lock:
            if packed not in self._live and packed not in self._refs:
                return default
            return self._peek(packed)

    def noted(self) -> list[tuple[Any, Any]]:
        """Each key with what `note` said of its value when it was written out; `None` for
        the values in memory, and for any the mapping has no note of."""
        with self.lock:
            return [*((self.unpack_key(packed), self._notes.get(packed)) for packed in self._refs),
                    *((self.unpack_key(packed), None) for packed in self._live)]

    def forget_notes(self) -> None:
        """Drop every note: what they said no longer holds (the TTL attribute changed)."""
        with self.lock:
            self._notes.clear()

    def _each(self) -> Iterator[tuple[Any, Any]]:
        for packed in self._packed_keys():
            with self.lock:
                if packed not in self._live and packed not in self._refs:
                    continue  # gone since the keys were listed
                value = self._peek(packed)
            yield packed, value

    def values(self) -> Any:
        return _View(lambda: (value for _, value in self._each()), self)

    def items(self) -> Any:
        return _View(lambda: ((self.unpack_key(packed), value) for packed, value in self._each()),
                     self)

    def clear(self) -> None:
        with self.lock:
            self._live.clear()
            self._refs.clear()
            self._notes.clear()

    def copy(self) -> dict[Any, Any]:
        return dict(self.items())

    def __deepcopy__(self, memo: dict[int, Any]) -> SpilledMapping:
        """A copy that shares the written blobs (they never change) and copies the rest."""
        import copy

        twin = SpilledMapping(self.lock, file=self.file, default_factory=self.default_factory,
                              owner=self.owner, pack_key=self.pack_key,
                              unpack_key=self.unpack_key, recent=self.recent, note=self.note)
        with self.lock:
            twin._refs = dict(self._refs)
            twin._notes = dict(self._notes)
            for packed, (value, _, _) in self._live.items():
                twin._live[packed] = [copy.deepcopy(value, memo), None, None]
        return twin

    def __repr__(self) -> str:
        return f"<SpilledMapping {len(self._live)} recent, {len(self._refs)} on disk>"


def peek(mapping: Any, key: Any) -> Any:
    """A mapping's value for `key`, or None, read without making it recent if the mapping is
    a `SpilledMapping` (a plain dict, for a table or group made before the patches)."""
    return mapping.peek(key) if isinstance(mapping, SpilledMapping) else mapping.get(key)


def under(lock: threading.RLock, method: Callable[..., Any]) -> Callable[..., Any]:
    """`method`, holding `lock` while it runs: an operation that gets a value and then changes
    it in place, so that the value is not written out between the two."""
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return locked


class _View:
    """What `values()` and `items()` return: iterable as often as asked, with a length."""

    def __init__(self, each: Callable[[], Iterator[Any]], mapping: SpilledMapping) -> None:
        self._each = each
        self._mapping = mapping

    def __iter__(self) -> Iterator[Any]:
        return self._each()

    def __len__(self) -> int:
        return len(self._mapping)
