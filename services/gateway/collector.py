"""Scanning and visiting: which devices are around, when to visit each, at most N at a time.

A bleak scanner (filtered on the four health service UUIDs) keeps a table of sightings. The loop
starts a visit for every device that is due and was seen recently, never more than
``max_concurrent`` at once. A visit (:meth:`Collector.visit`) opens a
:class:`~services.gateway.session.DeviceSession`, reads Device Information, sets the clock,
transfers stored records and writes each one to the offline queue the moment it arrives. When the
next visit is due comes from the retry families (:mod:`services.gateway.retry`): a complete visit
waits ``revisit_s``; an interrupted transfer resumes soon; an unreachable device backs off.

With ``once`` the collector ends when every device seen during the first ``scan_s`` seconds (and
any seen later, until then) has had a complete visit or exhausted its attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from services.gateway import retry
from services.gateway.connect import Connector
from services.gateway.errors import GatewayError
from services.gateway.metrics import GatewayMetrics
from services.gateway.profiles import BODY_TEMPERATURE, HEALTH_SERVICE_UUIDS, Profile, Transfer, profile_for_services
from services.gateway.queue import OfflineQueue
from services.gateway.records import build_item
from services.gateway.session import DeviceSession, SessionTiming
from services.gateway.transfer import ReceivedRecord
from shared.ble.errors import BleDecodeError
from shared.ble.glucose import GlucoseMeasurement

logger = logging.getLogger(__name__)

LOOP_TICK_S = 0.25


@dataclass(frozen=True, slots=True)
class CollectorSettings:
    """How the collector schedules visits."""

    max_concurrent: int = 4
    revisit_s: float = 300.0
    once: bool = False
    scan_s: float = 5.0
    seen_ttl_s: float = 30.0
    timing: SessionTiming = field(default_factory=SessionTiming)


@dataclass(slots=True)
class Sighting:
    """The latest advertisement of one device."""

    device: BLEDevice
    profile: Profile
    last_seen: float


@dataclass(slots=True)
class Schedule:
    """Visit bookkeeping for one device."""

    next_visit_at: float = 0.0
    failures: int = 0
    interruptions: int = 0
    visits: int = 0
    complete: bool = False
    gave_up: bool = False
    in_flight: bool = False
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class VisitResult:
    """What one visit did."""

    address: str
    outcome: str  # complete | a retry family name
    records: int
    added: int
    error: str = ""


class Collector:
    """Scans, schedules and runs device visits (module doc)."""

    def __init__(
        self,
        queue: OfflineQueue,
        connector: Connector,
        zone: dt.tzinfo,
        metrics: GatewayMetrics,
        settings: CollectorSettings | None = None,
        scanner_backend: object = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue = queue
        self.connector = connector
        self.zone = zone
        self.metrics = metrics
        self.settings = settings or CollectorSettings()
        self.scanner_backend = scanner_backend
        self.clock = clock
        self.sightings: dict[str, Sighting] = {}
        self.schedules: dict[str, Schedule] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- scanning ---------------------------------------------------------------------------------------

    def on_advertisement(self, device: BLEDevice, advertisement: AdvertisementData) -> None:
        """bleak detection callback: remember health devices and when they were last seen."""
        profile = profile_for_services(advertisement.service_uuids)
        known = device.address in self.sightings
        if profile is None:
            if known:  # a scan response without the service list: still a sign of life
                self.sightings[device.address].last_seen = self.clock()
            return
        self.sightings[device.address] = Sighting(device, profile, self.clock())
        if not known:
            self.schedules.setdefault(device.address, Schedule())
            self.metrics.seen(len(self.sightings))
            logger.info("seen %s %s (%s)", profile.kind, device.address, device.name)
            self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Scan and visit until ``stop`` is set (or, with ``once``, until every device is done)."""
        started = self.clock()
        scanner = BleakScanner(
            detection_callback=self.on_advertisement,
            service_uuids=list(HEALTH_SERVICE_UUIDS),
            backend=self.scanner_backend,  # type: ignore[arg-type]
        )
        await scanner.start()
        try:
            while not stop.is_set():
                self._start_due_visits()
                if self.settings.once and self._finished(started):
                    logger.info("every device seen has been visited; collection done")
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(LOOP_TICK_S):
                        await self._wake.wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(BleakError, TimeoutError):
                await scanner.stop()

    def _finished(self, started: float) -> bool:
        if self.clock() - started < self.settings.scan_s or self._tasks:
            return False
        return all(schedule.complete or schedule.gave_up for schedule in self.schedules.values())

    def _start_due_visits(self) -> None:
        now = self.clock()
        for address, sighting in self.sightings.items():
            if len(self._tasks) >= self.settings.max_concurrent:
                return
            schedule = self.schedules[address]
            if schedule.in_flight or schedule.gave_up or now < schedule.next_visit_at:
                continue
            if self.settings.once and schedule.complete:
                continue
            if now - sighting.last_seen > self.settings.seen_ttl_s:
                continue
            schedule.in_flight = True
            task = asyncio.get_running_loop().create_task(self._visit_and_schedule(sighting))
            self._tasks.add(task)
            task.add_done_callback(self._visit_done)

    def _visit_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    async def _visit_and_schedule(self, sighting: Sighting) -> None:
        schedule = self.schedules[sighting.device.address]
        try:
            result = await self.visit(sighting.device, sighting.profile)
        except Exception as error:  # a bug or a full disk: log it, back off, keep the other devices going
            logger.exception("%s: visit failed unexpectedly", sighting.device.address)
            result = VisitResult(sighting.device.address, retry.DEVICE_PROTOCOL.name, 0, 0, repr(error))
        finally:
            schedule.in_flight = False
        now = self.clock()
        schedule.visits += 1
        if result.outcome == "complete":
            schedule.complete, schedule.failures, schedule.interruptions = True, 0, 0
            schedule.next_visit_at = now + self.settings.revisit_s
            return
        family = next((f for f in retry.FAMILIES if f.name == result.outcome), retry.DEVICE_UNREACHABLE)
        schedule.last_error = result.error
        if family is retry.TRANSFER_INTERRUPTED and result.records:
            # Progress was made: resume soon, and do not count it against the device.
            schedule.interruptions += 1
            schedule.next_visit_at = now + family.backoff.delay_s(schedule.interruptions)
            return
        schedule.failures += 1
        schedule.next_visit_at = now + family.backoff.delay_s(schedule.failures)
        if family.max_attempts is not None and schedule.failures >= family.max_attempts:
            if self.settings.once:
                schedule.gave_up = True
                logger.warning(
                    "%s: giving up after %d attempts: %s", sighting.device.address, schedule.failures, result.error
                )
            else:
                schedule.failures = family.max_attempts - 1  # keep trying at the capped pace

    # -- one visit --------------------------------------------------------------------------------------

    async def visit(self, device: BLEDevice, profile: Profile) -> VisitResult:
        """Connect, identify, set the clock, transfer stored records into the queue, disconnect."""
        started = self.clock()
        counts = {"records": 0, "added": 0}
        outcome, error = "complete", ""
        session = DeviceSession(device, profile, connector=self.connector, timing=self.settings.timing)
        self.metrics.visit_started()
        try:
            async with session:
                identity = await session.read_identity()
                row = await self.queue.upsert_device(identity, profile.kind, device.name, device.address)
                site = await session.read_temperature_site() if profile is BODY_TEMPERATURE else None
                clock = await session.set_clock(dt.datetime.now(self.zone).replace(tzinfo=None))
                if not clock.set:
                    logger.info("%s: clock not set: %s", device.address, clock.detail)

                async def keep(record: ReceivedRecord) -> None:
                    item = build_item(
                        identity,
                        profile,
                        record.frame,
                        self.zone,
                        context_frame=record.context_frame,
                        temperature_site=site,
                    )
                    cursor = _next_sequence(record) if record.solicited else None
                    counts["added"] += await self.queue.add(identity.key, [item], racp_next_sequence=cursor)
                    counts["records"] += 1
                    self.metrics.record_received(profile.kind)

                if profile.transfer is Transfer.RACP:
                    await session.collect_racp(row.racp_next_sequence, keep)
                else:
                    transfer = await session.collect_indications(keep)
                    logger.debug("%s: %d record(s), ended by %s", device.address, transfer.records, transfer.ended_by)
                if session.paired:
                    self.metrics.pairings.inc()
                await self.queue.record_visit(identity.key, clock.skew_s)
        except GatewayError as failure:
            outcome = failure.family.name if failure.family else retry.DEVICE_PROTOCOL.name
            error = str(failure)
        except (BleakError, TimeoutError, EOFError) as failure:
            # A GATT operation failed: once the link has dropped, that is an interrupted transfer.
            outcome = retry.TRANSFER_INTERRUPTED.name if session.lost else retry.DEVICE_PROTOCOL.name
            error = f"{type(failure).__name__}: {failure}"
        finally:
            self.metrics.visit_ended(profile.kind, outcome, self.clock() - started)
        if outcome == "complete":
            logger.info("%s: visit complete, %d record(s), %d new", device.address, counts["records"], counts["added"])
        else:
            logger.info(
                "%s: visit ended (%s) after %d record(s): %s", device.address, outcome, counts["records"], error
            )
        return VisitResult(device.address, outcome, counts["records"], counts["added"], error)


def _next_sequence(record: ReceivedRecord) -> int | None:
    """The RACP cursor after a solicited glucose record: its sequence number + 1."""
    try:
        return GlucoseMeasurement.from_bytes(record.frame).sequence_number + 1
    except BleDecodeError:
        return None
