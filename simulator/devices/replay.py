"""A device that plays back captured frames: the gateway meets a real device's exact bytes.

Frames (hex, e.g. from a capture or a bug report) are sent on one characteristic as soon as the
collector subscribes to it, by indication where the SIG defines the characteristic as indicated
(0x2A35, 0x2A9D, 0x2A1C) and by notification otherwise. The device advertises the SIG service that
owns the characteristic, so a gateway scanning by service finds it like the real one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from bumble import gatt
from bumble.gatt_server import Server

from shared.ble.errors import BleDecodeError
from shared.ble.registry import decode
from simulator.devices.base import Session, SimulatedDevice
from simulator.devices.records import Reading, ReadingPlan
from simulator.devices.services import Properties, permissions, uuid16, with_cccd

# The service that owns a measurement characteristic (BLS, WSS, HTS, GLS).
SERVICE_BY_CHARACTERISTIC = {
    0x2A35: 0x1810,
    0x2A36: 0x1810,
    0x2A9D: 0x181D,
    0x2A1C: 0x1809,
    0x2A1E: 0x1809,
    0x2A18: 0x1808,
    0x2A34: 0x1808,
}
INDICATED_CHARACTERISTICS = frozenset({0x2A35, 0x2A9D, 0x2A1C})


def parse_frames(text: str) -> list[bytes]:
    """One hex frame per line (spaces allowed, ``#`` starts a comment, blank lines ignored)."""
    frames = []
    for number, line in enumerate(text.splitlines(), start=1):
        cleaned = line.split("#", 1)[0].replace(" ", "").replace(":", "").strip()
        if not cleaned:
            continue
        try:
            frames.append(bytes.fromhex(cleaned))
        except ValueError as error:
            raise ValueError(f"line {number}: {line.strip()!r} is not hex") from error
    return frames


class ReplayDevice(SimulatedDevice):
    """Sends ``frames`` on ``characteristic`` to each collector that subscribes."""

    KIND: ClassVar[str] = "replay"
    MODEL: ClassVar[str] = "VS-REPLAY"

    def __init__(
        self,
        name: str,
        *,
        characteristic: int,
        frames: Sequence[bytes],
        service: int | None = None,
        **kwargs: Any,
    ) -> None:
        owner = service if service is not None else SERVICE_BY_CHARACTERISTIC.get(characteristic)
        if owner is None:
            raise ValueError(f"give the service UUID for characteristic 0x{characteristic:04X}")
        self.characteristic_uuid = characteristic
        self.frames = [bytes(frame) for frame in frames]
        self._service_uuid = owner
        self.replayed: gatt.Characteristic | None = None
        super().__init__(name, **kwargs)

    @property
    def service_uuid(self) -> int:
        return self._service_uuid

    @classmethod
    def generate(cls, plan: ReadingPlan) -> list[Reading]:
        return []

    def profile_service(self, server: Server) -> gatt.Service:
        kind = Properties.INDICATE if self.characteristic_uuid in INDICATED_CHARACTERISTICS else Properties.NOTIFY
        self.replayed = with_cccd(
            gatt.Characteristic(uuid16(self.characteristic_uuid), kind, permissions(), b""), server, self.secure
        )
        return gatt.Service(uuid16(self._service_uuid), [self.replayed])

    def on_subscription(
        self, session: Session, characteristic: gatt.Characteristic, notify: bool, indicate: bool
    ) -> None:
        if characteristic is not self.replayed or not (notify or indicate):
            return
        frames = list(self.frames)
        if self.behaviour.early_notification and frames:
            self.notify_now(session, characteristic, frames.pop(0))
        session.spawn(self._replay(session, characteristic, frames, indicate))

    async def _replay(
        self, session: Session, characteristic: gatt.Characteristic, frames: list[bytes], indicate: bool
    ) -> None:
        for index, frame in enumerate(frames):
            if index:
                await self.pause_between_records()
            if indicate:
                await self.indicate(session, characteristic, frame)
            else:
                await self.notify(session, characteristic, frame)
            if await self.record_sent(session):
                return
        if self.behaviour.disconnect_after_upload:
            await self.disconnect(session)

    def ground_truth_extra(self) -> dict[str, Any]:
        frames = []
        for frame in self.frames:
            entry: dict[str, Any] = {"frame_hex": frame.hex()}
            try:
                entry["value"] = decode(self.characteristic_uuid, frame).to_json()
            except BleDecodeError as error:
                entry["decode_error"] = str(error)
            frames.append(entry)
        return {"characteristic": f"{self.characteristic_uuid:04x}", "frames": frames}
