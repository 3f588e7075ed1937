"""Per-device state of the stats consumer (``stats_devices``): the model a reading counts under, and the
device's last seen time. Read from the cache, ``stats_devices`` or, for devices paired before the consumer's
history, the ``devices`` table; written back as whole rows (pairing) or as last-seen updates (readings)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import aiomysql

from services.stats.events import DevicePaired, DeviceUnpaired, ReadingCreated, StatsEvent, key_text
from services.stats.known_rows import KnownRows
from services.stats.sql import chunks


@dataclass
class DeviceState:
    """A device as stats_devices holds it; ``partial`` when only model and identity are known (cache)."""

    device_id: str
    user_id: str
    region: str
    kind: str | None
    model: str
    firmware: str | None
    paired_at: datetime | None
    unpaired_at: datetime | None
    last_seen_at: datetime | None
    dirty: bool = False  # whole row to write
    seen: datetime | None = None  # a newer last_seen_at to write
    partial: bool = False

    @property
    def newest_seen(self) -> datetime | None:
        return max(filter(None, (self.last_seen_at, self.seen)), default=None)


def device_ids(events: Iterable[StatsEvent]) -> tuple[list[str], set[str]]:
    """Device ids the events name, and those named by pairing events (which need the whole row)."""
    found: dict[str, None] = {}
    pairing: set[str] = set()
    for event in events:
        if isinstance(event, ReadingCreated):
            if event.data.device_id:
                found[event.data.device_id] = None
        elif isinstance(event, DevicePaired | DeviceUnpaired):
            found[event.data.device_id] = None
            pairing.add(event.data.device_id)
    return list(found), pairing


async def load_devices(cur: aiomysql.Cursor, events: Sequence[StatsEvent], known: KnownRows) -> dict[str, DeviceState]:
    """State of every device the events name: model from the cache, else stats_devices, else devices."""
    ids, pairing = device_ids(events)
    owner: dict[str, tuple[str, str]] = {}
    for event in events:
        device_id = getattr(event.data, "device_id", None)
        if device_id and device_id not in owner:
            owner[device_id] = (event.user_id, event.region)
    states: dict[str, DeviceState] = {}
    for device_id in ids:
        remembered = known.devices.get(device_id)
        if remembered is not None and device_id not in pairing:
            (model, last_seen), (user_id, region) = remembered, owner[device_id]
            states[device_id] = DeviceState(
                device_id, user_id, region, None, model, None, None, None, last_seen, partial=True
            )
    lookup = [i for i in ids if i not in states]
    for part in chunks(lookup):
        marks = ", ".join(["%s"] * len(part))
        if pairing.intersection(part):  # pairing events rewrite the whole row: read all of it
            await cur.execute(
                "SELECT device_id, user_id, region, kind, model, firmware, paired_at, unpaired_at, last_seen_at "  # noqa: S608
                f"FROM stats_devices WHERE device_id IN ({marks})",
                tuple(part),
            )
            for row in await cur.fetchall():
                states[row[0]] = DeviceState(*row)
            continue
        # readings need only the model and the last seen time
        await cur.execute(
            f"SELECT device_id, model, last_seen_at FROM stats_devices WHERE device_id IN ({marks})",  # noqa: S608
            tuple(part),
        )
        for device_id, model, last_seen in await cur.fetchall():
            user_id, region = owner[device_id]
            states[device_id] = DeviceState(
                device_id, user_id, region, None, model, None, None, None, last_seen, partial=True
            )
    missing = [i for i in lookup if i not in states]
    # Devices paired before this consumer's history (or whose device.paired event is older than the
    # topic's retention): the model is immutable, so the devices row is as good as the event.
    for part in chunks(missing):
        await cur.execute(
            "SELECT id, user_id, kind, model, firmware, paired_at, unpaired_at FROM devices "  # noqa: S608
            f"WHERE id IN ({', '.join(['%s'] * len(part))})",
            tuple(part),
        )
        for device_id, user_id, kind, model, firmware, paired_at, unpaired_at in await cur.fetchall():
            if device_id in owner:  # a case-insensitive match on another spelling is not ours
                region = owner[device_id][1]
                states[device_id] = DeviceState(
                    device_id,
                    user_id,
                    region,
                    kind,
                    key_text(model),
                    firmware,
                    paired_at,
                    unpaired_at,
                    None,
                    dirty=True,
                )
    return states


async def save_devices(cur: aiomysql.Cursor, states: Iterable[DeviceState]) -> None:
    """Whole rows for devices whose state changed; only last_seen_at for the rest that saw a reading."""
    whole, seen = [], []
    for s in sorted(states, key=lambda s: s.device_id):
        if s.dirty and not s.partial:
            whole.append(
                (
                    s.device_id,
                    s.user_id,
                    s.region,
                    s.kind,
                    s.model,
                    s.firmware,
                    s.paired_at,
                    s.unpaired_at,
                    s.newest_seen,
                )
            )
        elif s.seen is not None:
            seen.append((s.device_id, s.user_id, s.region, s.model, s.seen))
    # last_seen_at only moves forward, whatever order two writers commit in
    if whole:
        await cur.executemany(
            "INSERT INTO stats_devices (device_id, user_id, region, kind, model, firmware, paired_at, unpaired_at, "
            "last_seen_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
            "user_id = VALUES(user_id), region = VALUES(region), kind = VALUES(kind), model = VALUES(model), "
            "firmware = VALUES(firmware), paired_at = VALUES(paired_at), unpaired_at = VALUES(unpaired_at), "
            "last_seen_at = GREATEST(COALESCE(last_seen_at, VALUES(last_seen_at)), "
            "COALESCE(VALUES(last_seen_at), last_seen_at))",
            whole,
        )
    if seen:
        # the rows exist (read above, or remembered after an earlier commit); the insert part never runs
        await cur.executemany(
            "INSERT INTO stats_devices (device_id, user_id, region, model, last_seen_at) VALUES (%s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE last_seen_at = GREATEST(COALESCE(last_seen_at, VALUES(last_seen_at)), "
            "VALUES(last_seen_at))",
            seen,
        )
