"""``vitalsync migrate snapshot FILE``: load a snapshot into the raw and processed schema, resumably.

The file (DESIGN section 10) is a header line ``{"snapshot": {"topic", "partitions": {"0": next_offset,
...}, "taken_at"}}`` and one SNAPSHOT record per line. Record k of partition p (the partition Kafka's
default partitioner gives the record's key) stood at offset k of the export topic, so every raw row
knows its source position; the header's offsets are where change capture starts (migration_offsets,
written once and never moved back).

Chunks of records are committed together with a checkpoint (records done) in one transaction, so a
load killed at any point resumes after the last committed chunk and never writes a record twice; and
because a record is applied only when it is newer than what the raw row holds (`bulk`), loading a
snapshot again, or while `follow` already runs, cannot move an object back to an older version.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomysql

from services.migration import repo
from services.migration.bulk import ChunkReport, load_chunk
from services.migration.errors import LOCK_CONFLICT_RETRIES, lock_conflict
from services.migration.inserts import STATEMENTS, Inserter, LoadMismatch, LocalInfileInserter, LocalInfileRefused
from services.migration.prepared import PreparedChunk, SpeculationMissed, load_prepared_chunk
from services.migration.preparer import Preparer
from services.migration.preparer import available as preparer_available
from services.migration.processing import ProcessContext
from services.migration.records import SourceRecord
from services.migration.snapshot_file import SnapshotReader
from shared.db.transactions import rollback_after
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]  # (records done, compressed bytes read)
Chunk = list[SourceRecord] | PreparedChunk
Load = Callable[[aiomysql.Cursor], Awaitable[ChunkReport]]  # writes a chunk in the caller's transaction


@dataclass
class SnapshotReport:
    """What a load did (this run) and where it stands."""

    snapshot_id: str
    records_done: int = 0
    resumed_at: int = 0
    already_loaded: bool = False
    rows: int = 0
    failed: int = 0
    ignored: int = 0
    skipped: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    stopped: bool = False  # asked to stop before the end: records_done is where a new run resumes
    missed: int = 0  # prepared chunks the preparer guessed wrong for, written from their records

    def add(self, chunk: ChunkReport) -> None:
        """Fold a chunk's counts in."""
        self.rows += chunk.rows
        self.failed += chunk.failed
        self.ignored += chunk.ignored
        self.skipped += chunk.skipped
        for pattern, count in chunk.failures.items():
            self.failures[pattern] = self.failures.get(pattern, 0) + count

    def to_json(self) -> dict[str, Any]:
        """The report as JSON."""
        return {
            "snapshot_id": self.snapshot_id,
            "records_done": self.records_done,
            "resumed_at": self.resumed_at,
            "already_loaded": self.already_loaded,
            "rows": self.rows,
            "failed": self.failed,
            "ignored": self.ignored,
            "skipped": self.skipped,
            "failures": dict(sorted(self.failures.items())),
            "stopped": self.stopped,
            "chunks_rewritten": self.missed,
        }


async def load_snapshot(
    pool: aiomysql.Pool,
    path: Path,
    ctx: ProcessContext,
    *,
    chunk_size: int,
    progress: ProgressCallback | None = None,
    inserter: Inserter = STATEMENTS,
    stop: asyncio.Event | None = None,
    settings: CommonSettings | None = None,
) -> SnapshotReport:
    """Load path; resumes after the last checkpoint of an earlier run of the same file.

    inserter writes the rows of objects new to the database (`inserts`); a `LocalInfileInserter` needs a
    pool whose connections allow LOAD DATA LOCAL. With one, and the database's settings, a preparer
    process prepares the chunks ahead of this one's writes (`preparer`); otherwise this process reads
    them ahead (`ReadAhead`). When stop is set, the load ends after the chunk in hand
    is committed (report.stopped): a statement is never cancelled half way, which would leave the driver
    a connection it cannot roll back.
    """
    reader = SnapshotReader(path)
    # Everything alive now (modules, settings, the caller's data) outlives the load, yet each full
    # garbage collection of the load walked it all: a fifth of a second of a 3 s load. Frozen, it is skipped.
    gc.freeze()
    try:
        report = SnapshotReport(reader.snapshot_id)
        async with pool.acquire() as conn:
            async with conn.cursor() as cur:
                await repo.init_offsets(cur, reader.header.topic, reader.header.partitions)
                state = await repo.snapshot_progress(cur, reader.snapshot_id)
                if state is None:
                    await repo.save_snapshot_progress(cur, reader.snapshot_id, str(path), 0)
                await conn.commit()
            done = 0 if state is None else state[0]
            report.resumed_at = report.records_done = done
            if state is not None and state[1] is not None:
                report.already_loaded = True
                return report
            source: ReadAhead | Preparer
            if settings is not None and isinstance(inserter, LocalInfileInserter) and preparer_available():
                source = Preparer(settings, path, done, chunk_size, ctx)
            else:
                records = reader.records()
                for _ in range(done):
                    next(records)
                source = ReadAhead(records, chunk_size)
            if progress is not None:
                progress(done, reader.bytes_read)
            writer = _ChunkWriter(conn, ctx, inserter, report, reader, str(path))
            # each chunk is committed as it comes (the next one is prepared meanwhile), and the end marked
            # apart: waiting for the next chunk to know whether this one is the last held the writer up
            async with source as chunks:
                while chunk := await chunks.next():
                    done = await writer.commit(chunk, done)
                    if progress is not None:
                        progress(done, chunk.bytes_read if isinstance(chunk, PreparedChunk) else reader.bytes_read)
                    if stop is not None and stop.is_set():
                        report.stopped = True
                        break
                else:
                    await writer.finish(done)
        return report
    finally:
        gc.unfreeze()
        reader.close()


class ReadAhead:
    """Decodes the next chunk of records while the current one is written.

    Reading and decoding the file is a fifth of the loader's CPU, and writing a chunk spends about a
    third of its time waiting for MariaDB. A task decodes the following chunk in slices of
    `SLICE` records, yielding to the event loop after each, so it runs while the writer waits for a
    statement and the writer resumes at most one slice (~1 ms) after its answer arrives.
    """

    SLICE = 32

    def __init__(self, records: Iterator[SourceRecord], chunk_size: int) -> None:
        self._records = records
        self._chunk_size = chunk_size
        self._task: asyncio.Task[list[SourceRecord]] | None = None

    async def __aenter__(self) -> ReadAhead:
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def next(self) -> list[SourceRecord]:
        """The next chunk (empty at the end of the file); the one after it starts decoding."""
        chunk = await self._task if self._task is not None else await self._decode()
        self._task = asyncio.create_task(self._decode()) if chunk else None
        return chunk

    async def _decode(self) -> list[SourceRecord]:
        chunk: list[SourceRecord] = []
        for record in self._records:
            chunk.append(record)
            if len(chunk) >= self._chunk_size:
                break
            if len(chunk) % self.SLICE == 0:
                await asyncio.sleep(0)
        return chunk


class _ChunkWriter:
    """Commits chunks with their checkpoint; a chunk LOAD DATA could not write whole is written again by statements."""

    def __init__(
        self,
        conn: aiomysql.Connection,
        ctx: ProcessContext,
        inserter: Inserter,
        report: SnapshotReport,
        reader: SnapshotReader,
        file_name: str,
    ) -> None:
        self._conn, self._ctx, self._inserter = conn, ctx, inserter
        self._report, self._reader, self._file_name = report, reader, file_name

    async def commit(self, chunk: Chunk, done: int) -> int:
        """Write chunk and the checkpoint after it in one transaction; returns the records done.

        A transaction that lost a deadlock (against `follow`'s master or workers) is tried again."""
        attempt = 1
        while True:
            try:
                return await self._commit_once(chunk, done)
            except Exception as error:
                if not lock_conflict(error) or attempt == LOCK_CONFLICT_RETRIES:
                    raise
                log.warning("snapshot chunk at record %d: %s; trying again", done, error)
            # apart at random: writers that deadlocked and retried at once would meet again
            await asyncio.sleep(random.uniform(0.05, 0.2) * attempt)  # noqa: S311 - not for security
            attempt += 1

    async def finish(self, done: int) -> None:
        """Mark the load finished (a run killed before this resumes at the end, and marks it then)."""
        try:
            async with self._conn.cursor() as cur:
                await repo.save_snapshot_progress(cur, self._reader.snapshot_id, self._file_name, done, finished=True)
            await self._conn.commit()
        except BaseException:
            await rollback_after(self._conn)
            raise
        self._report.records_done = done

    async def _commit_once(self, chunk: Chunk, done: int) -> int:
        if isinstance(chunk, PreparedChunk):
            if isinstance(self._inserter, LocalInfileInserter):
                inserter = self._inserter
                try:
                    return await self._commit(
                        lambda cur: load_prepared_chunk(cur, chunk, self._ctx, inserter), len(chunk), done
                    )
                except SpeculationMissed as missed:
                    log.debug("snapshot chunk at record %d: %s; written from its records", done, missed)
                    self._report.missed += 1
                except (LocalInfileRefused, LoadMismatch):
                    pass  # the records' own path below meets it again, and handles it
            records = chunk.records()
        else:
            records = chunk
        try:
            return await self._commit(self._loader(records, self._inserter), len(records), done)
        except LocalInfileRefused as error:
            log.warning("%s: the snapshot's rows go by statements from here on", error)
            self._inserter = STATEMENTS
        except LoadMismatch as error:
            # rows that exist after all (written meanwhile by `follow`) or a value the statements reject
            log.warning("%s at record %d: this chunk goes by statements", error, done)
        return await self._commit(self._loader(records, STATEMENTS), len(records), done)

    def _loader(
        self, records: list[SourceRecord], inserter: Inserter
    ) -> Callable[[aiomysql.Cursor], Awaitable[ChunkReport]]:
        return lambda cur: load_chunk(cur, records, self._ctx, inserter)

    async def _commit(self, load: Load, count: int, done: int) -> int:
        try:
            async with self._conn.cursor() as cur:
                chunk_report = await load(cur)
                done += count
                await repo.save_snapshot_progress(cur, self._reader.snapshot_id, self._file_name, done)
            await self._conn.commit()
        except BaseException:
            await rollback_after(self._conn)
            raise
        self._report.add(chunk_report)
        self._report.records_done = done
        log.debug("snapshot %s: %d records loaded", self._reader.snapshot_id[:12], done)
        return done
