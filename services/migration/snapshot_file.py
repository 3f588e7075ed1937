"""A snapshot file (DESIGN section 10): its header and its records, each with its source position.

The file is a header line ``{"snapshot": {"topic", "partitions": {"0": next_offset, ...}, "taken_at"}}``
and one SNAPSHOT record per line. Record k of partition p (the partition Kafka's default partitioner
gives the record's key) stood at offset k of the export topic, so every record knows its source position.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from services.migration.errors import RecordFormatError
from services.migration.records import SourceRecord, decode_record
from shared.legacy.partitioning import partition_for


@dataclass(frozen=True)
class SnapshotHeader:
    """The header line: topic, next offset per partition, time taken."""

    topic: str
    partitions: dict[int, int]
    taken_at: str

    @classmethod
    def parse(cls, line: str) -> SnapshotHeader:
        """Parse the first line; RecordFormatError when it is not a header."""
        try:
            snapshot = json.loads(line)["snapshot"]
            partitions = {int(p): int(o) for p, o in snapshot["partitions"].items()}
            topic, taken_at = snapshot["topic"], snapshot["taken_at"]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise RecordFormatError(f'the first line must be a {{"snapshot": ...}} header ({error!r})') from None
        if not partitions or not isinstance(topic, str) or not isinstance(taken_at, str):
            raise RecordFormatError("the snapshot header needs topic, partitions and taken_at")
        return cls(topic, partitions, taken_at)


class SnapshotReader:
    """Header and records of a snapshot file (.gz or plain), with each record's source position."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._raw: IO[bytes] = path.open("rb")
        stream: IO[bytes] = self._raw
        if path.suffix == ".gz":
            stream = gzip.GzipFile(fileobj=self._raw, mode="rb")  # type: ignore[assignment]
        self._lines = stream
        try:
            with self._unreadable():
                first = stream.readline().decode("utf-8")
            self.header_line = first.strip()
            self.header = SnapshotHeader.parse(self.header_line)
        except RecordFormatError:
            self.close()
            raise
        self.snapshot_id = hashlib.sha256(f"{self.header_line}\n{path.stat().st_size}".encode()).hexdigest()
        self._next: dict[int, int] = dict.fromkeys(self.header.partitions, 0)
        self._count = len(self.header.partitions)

    @property
    def bytes_read(self) -> int:
        """Compressed bytes consumed so far (for a progress bar over the file size)."""
        return self._raw.tell()

    def records(self) -> Iterator[SourceRecord]:
        """Every record in file order; the line number is in the error of a malformed one."""
        return (record for _, record in self.entries())

    def entries(self) -> Iterator[tuple[bytes, SourceRecord]]:
        """Every record with its line, in file order (see `records`)."""
        with self._unreadable():
            for number, line in enumerate(self._lines, start=2):
                if not line.strip():
                    continue
                try:
                    record = decode_record(line, place=self._place)
                except RecordFormatError as error:
                    raise RecordFormatError(f"{self.path.name} line {number}: {error}") from None
                yield line, record

    @contextmanager
    def _unreadable(self) -> Iterator[None]:
        """A file that is not gzip, or ends early (a copy cut short), or is not UTF-8: RecordFormatError
        naming it (gzip's EOFError would otherwise read as Ctrl-D to the command line, its OSError as an
        unreachable server)."""
        try:
            yield
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
            raise RecordFormatError(
                f"{self.path.name} is not a readable snapshot ({type(error).__name__}: {error}); "
                "copy or export it again (records committed so far stay)"
            ) from None

    def _place(self, key: str) -> tuple[int, int]:
        """The partition Kafka gives key, and the next offset there (the record's position at snapshot time)."""
        partition = partition_for(key.encode("utf-8"), self._count)
        offset = self._next.get(partition, 0)
        self._next[partition] = offset + 1
        return partition, offset

    def close(self) -> None:
        """Close the file."""
        self._lines.close()
        self._raw.close()
