"""The snapshot loader's preparer: a child process that reads, decodes and prepares the chunks ahead of the
writer (`prepared`), so that the loader's Python runs on one core while MariaDB writes on the other.

The child is forked, not spawned: a fresh interpreter spends half a second importing what the load
needs, a sixth of a 2,000-user load, while a fork of the loader (after its `gc.freeze()`) is ready at
once. Right after the fork it closes every descriptor it inherited but its end of the pipe (the
loader's database connection above all: a loader killed with -9 must lose its connection, and so its
transaction's locks, at once, not when its child ends), ignores SIGINT and SIGTERM (a terminal sends
Ctrl-C to the whole process group; when to stop is the loader's decision, which then kills the child)
and leaves through `os._exit` (nothing of the loader's state is flushed or finalised twice).

It opens the snapshot itself, skips the records the load has done, reads the owners on a connection
of its own without locks (committing after each chunk, so it sees the writer's commits), and sends each
chunk down the pipe. A send blocks while the pipe is full, so the child runs at most about two chunks
ahead of the writer; when the loader is gone the send fails and the child ends. A malformed record ends
the child after the chunks before it were sent: the loader commits those and then reports the line, as
it does without a preparer.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from itertools import islice
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from pathlib import Path

import aiomysql

from services.migration.bulk import is_device
from services.migration.errors import MigrationError, RecordFormatError
from services.migration.owners import DbOwners, fetch_owners, owner_ids
from services.migration.prepared import PreparedChunk, prepare_objects
from services.migration.processing import ProcessContext
from services.migration.records import SourceRecord
from services.migration.snapshot_file import SnapshotReader
from shared.db.pool import create_pool
from shared.legacy.transform import DeviceRow, Transformed, transform
from shared.settings import CommonSettings

# devices seen in this many chunks before are added to the owners read (the writer may not have
# committed them yet); the pipe keeps the child far fewer chunks ahead than that
RECENT_CHUNKS = 8
RAMP = 8  # the first chunk is chunk_size / RAMP records


_AGAIN = (
    "; run the same command again (records committed so far stay), or without the preparer: "
    "VITALSYNC_MIGRATION_SNAPSHOT_PREPARER=false"
)


class PreparerFailed(MigrationError):
    """The preparer process failed or ended without finishing the file."""


@dataclass(frozen=True)
class _Failure:
    message: str
    malformed: bool  # a record the file holds is malformed (RecordFormatError), not a failure of the child


def available() -> bool:
    """Whether this platform can fork a preparer."""
    return hasattr(os, "fork")


class Preparer:
    """The child as the loader sees it: `next()` is the following prepared chunk."""

    def __init__(self, settings: CommonSettings, path: Path, skip: int, chunk_size: int, ctx: ProcessContext) -> None:
        self._job = (settings, path, skip, chunk_size, ctx)
        self._pid = 0
        self._conn: Connection | None = None
        self._task: asyncio.Future[object] | None = None

    async def __aenter__(self) -> Preparer:
        sys.stdout.flush()
        sys.stderr.flush()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                _detach(write_fd)
                code = _run_child(Connection(write_fd), *self._job)
            finally:
                os._exit(code)
        os.close(write_fd)
        self._pid, self._conn = pid, Connection(read_fd)
        self._task = asyncio.ensure_future(asyncio.to_thread(self._conn.recv))
        return self

    async def next(self) -> PreparedChunk | list[SourceRecord]:
        """The next chunk (an empty list at the end of the file); the one after it is received meanwhile."""
        if self._task is None or self._conn is None:
            return []
        try:
            item = await self._task
        except EOFError:
            raise PreparerFailed(f"the snapshot's preparer process ended before the end of the file{_AGAIN}") from None
        if isinstance(item, _Failure):
            self._task = None
            raise RecordFormatError(item.message) if item.malformed else PreparerFailed(item.message + _AGAIN)
        if item is None:
            self._task = None
            return []
        self._task = asyncio.ensure_future(asyncio.to_thread(self._conn.recv))
        assert isinstance(item, PreparedChunk)
        return item

    async def __aexit__(self, *_: object) -> None:
        """End the child (it may still be preparing) and reap it."""
        if self._pid:
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await asyncio.to_thread(os.waitpid, self._pid, 0)
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._conn is not None:
            self._conn.close()


def _detach(keep: int) -> None:
    """In the child: only `keep` and the standard streams stay open; the loader's signals stay its own."""
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _run_child(
    pipe: Connection, settings: CommonSettings, path: Path, skip: int, chunk_size: int, ctx: ProcessContext
) -> int:
    """Prepare every chunk and send it; the exit code."""
    try:
        asyncio.run(_prepare_file(pipe, settings, path, skip, chunk_size, ctx))
    except (BrokenPipeError, ConnectionResetError):
        return 0  # the loader is gone, or stopped early
    except RecordFormatError as error:
        pipe.send(_Failure(str(error), malformed=True))
    except Exception as error:  # noqa: BLE001 - whatever it is, the loader reports it
        pipe.send(_Failure(f"the snapshot's preparer failed ({type(error).__name__}: {error})", malformed=False))
    else:
        return 0
    return 1


async def _prepare_file(
    pipe: Connection, settings: CommonSettings, path: Path, skip: int, chunk_size: int, ctx: ProcessContext
) -> None:
    reader = SnapshotReader(path)
    pool = await create_pool(settings)
    try:
        entries = reader.entries()
        for _ in islice(entries, skip):
            pass
        recent: deque[list[tuple[DeviceRow, str | None]]] = deque(maxlen=RECENT_CHUNKS)
        async with _Sender(pipe) as sender, pool.acquire() as conn, conn.cursor() as cur:
            # the writer waits for the first chunk: a small one starts it sooner, then the sizes double (the
            # checkpoint is per chunk whatever its size, so resuming is unchanged)
            size = max(1, chunk_size // RAMP)
            while batch := list(islice(entries, size)):
                chunk = await _prepare_chunk(cur, batch, ctx, recent, reader.bytes_read)
                await conn.rollback()  # the next chunk's reads see what the writer committed meanwhile
                await sender.send(chunk)
                size = min(size * 2, chunk_size)
            await sender.send(None)
    finally:
        pool.close()
        await pool.wait_closed()
        reader.close()


class _Sender:
    """Sends down the pipe on a thread: a chunk's megabytes cross it while the next one is prepared (a
    pipe takes 64 KiB at a time, and each refill waits for the loader to read)."""

    def __init__(self, pipe: Connection) -> None:
        self._pipe = pipe
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="preparer-send")
        self._sending: asyncio.Future[None] | None = None

    async def __aenter__(self) -> _Sender:
        return self

    async def __aexit__(self, error: type[BaseException] | None, *_: object) -> None:
        """Wait for the send in flight: a failure's own message must not cross the pipe in the middle of a
        chunk. Its error counts only when nothing else went wrong."""
        if error is None:
            await self._flush()
        else:
            with suppress(Exception):
                await self._flush()

    async def send(self, item: object) -> None:
        """Pickle item here and send it after the one before."""
        data = ForkingPickler.dumps(item)
        await self._flush()
        self._sending = asyncio.get_running_loop().run_in_executor(self._thread, self._pipe.send_bytes, data)

    async def _flush(self) -> None:
        if self._sending is not None:
            sending, self._sending = self._sending, None
            await sending


async def _prepare_chunk(
    cur: aiomysql.Cursor,
    batch: list[tuple[bytes, SourceRecord]],
    ctx: ProcessContext,
    recent: deque[list[tuple[DeviceRow, str | None]]],
    bytes_read: int,
) -> PreparedChunk:
    """The chunk's objects prepared with the owners as committed plus the devices of recent chunks and of
    this one (paired first, as the writer does)."""
    records = [record for _, record in batch]
    owners = await fetch_owners(cur, *owner_ids((r.scope_type, r.scope_id, r.body) for r in records), lock=False)
    for seen in recent:
        for row, thing_id in seen:
            owners.add_device(row, thing_id)
    devices = [r for r in records if is_device(r, ctx)]
    recent.append(list(_paired(devices, ctx, owners)))
    others = [r for r in records if not is_device(r, ctx)]
    return PreparedChunk(
        text=b"".join(line if line.endswith(b"\n") else line + b"\n" for line, _ in batch),
        places=[(r.partition, r.offset) for r in records],
        devices=devices,
        objects=prepare_objects(others, ctx, owners),
        bytes_read=bytes_read,
    )


def _paired(
    devices: list[SourceRecord], ctx: ProcessContext, owners: DbOwners
) -> Iterator[tuple[DeviceRow, str | None]]:
    """The device rows the records pair, each added to owners as it is made."""
    for record in devices:
        result = transform(record.legacy(), ctx.mapping, owners)
        if isinstance(result, Transformed):
            for row in result.rows:
                if isinstance(row, DeviceRow):
                    owners.add_device(row, result.thing_id)
                    yield row, result.thing_id
