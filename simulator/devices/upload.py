"""Stored-record upload by indication, as blood-pressure monitors, scales and thermometers do it.

BLP, WSP and HTP have no control point: the device indicates its stored measurements one by one as
soon as a (bonded) collector enables indications on the measurement CCCD, each after the previous
confirmation. Which records go out depends on the upload policy (latest only, all, or all and then
erased); knobs can drop the link after N records or after the last one.
"""

from __future__ import annotations

from typing import Any

from bumble import gatt

from simulator.devices.base import Session, SimulatedDevice
from simulator.devices.behaviours import UploadPolicy
from simulator.devices.records import Reading, StoredRecord


class IndicatedRecordsDevice(SimulatedDevice):
    """A device whose measurement characteristic indicates the stored records on subscription."""

    measurement: gatt.Characteristic  # set by the subclass's profile_service()

    def records_to_upload(self) -> list[StoredRecord]:
        """What the upload policy sends: the newest record only, or every stored record."""
        records = list(self.store.records)
        if self.behaviour.upload_policy is UploadPolicy.LATEST:
            return records[-1:]
        return records

    def on_subscription(
        self, session: Session, characteristic: gatt.Characteristic, notify: bool, indicate: bool
    ) -> None:
        if characteristic is not self.measurement or not indicate:
            return
        records = self.records_to_upload()
        early: StoredRecord | None = None
        if self.behaviour.early_notification and records:
            # Still inside the CCCD write: this goes out before the ATT Write Response (bleak #1885).
            early, records = records[0], records[1:]
            self.notify_now(session, characteristic, early.frame)
        session.spawn(self._upload(session, early, records))

    async def _upload(self, session: Session, early: StoredRecord | None, records: list[StoredRecord]) -> None:
        if early is not None and await self._sent(session, early):
            return
        for index, record in enumerate(records):
            if index or early is not None:
                await self.pause_between_records()
            await self.indicate(session, self.measurement, record.frame)
            if await self._sent(session, record):
                return
        if self.behaviour.disconnect_after_upload:
            await self.disconnect(session)

    async def _sent(self, session: Session, record: StoredRecord) -> bool:
        if self.behaviour.upload_policy is UploadPolicy.DELETE_AFTER_DOWNLOAD:
            self.store.delete([record])
        return await self.record_sent(session)

    async def measure(self, reading: Reading) -> StoredRecord:
        """Take a live measurement: store it and indicate it to subscribed collectors."""
        record = self.add_reading(reading)
        for session in self.sessions:
            await self.before_live_measurement(session)
            if session.indicating(self.measurement):
                await self.indicate(session, self.measurement, record.frame)
                await self._sent(session, record)
        return record

    async def before_live_measurement(self, session: Session) -> None:
        """What a kind sends before a live measurement (a cuff's intermediate pressures)."""

    def ground_truth_extra(self) -> dict[str, Any]:
        """The sequence numbers a collector receives on its next subscription."""
        return {"upload_sequence_numbers": [record.sequence_number for record in self.records_to_upload()]}
