"""Draining the offline queue into sync: register devices on first sight, upload batches, oldest first.

Each round takes the device of the oldest pending reading and up to 500 of its pending readings
(sync's batch limit), registers the device if sync has no id for it yet (``POST /v1/devices`` is
idempotent on user + model + serial), uploads, and applies sync's per-item answers: accepted or
duplicate -> ``sent``, rejected -> ``rejected`` with the server's code. Rows change only after an
answer; a batch that got none (sync or the edge down, a timeout) stays pending and is sent again,
unchanged, after a backoff from :mod:`services.gateway.retry` (at least what Retry-After says).
Sending it again is harmless: the client ids are deterministic, so sync answers ``duplicate``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Any

from services.gateway import retry
from services.gateway.api import SyncApi
from services.gateway.errors import ApiRequestError, ApiUnavailableError, CredentialsRejectedError, GatewayError
from services.gateway.metrics import GatewayMetrics
from services.gateway.queue import Batch, DeviceRow, OfflineQueue, UploadResult

logger = logging.getLogger(__name__)

MAX_BATCH = 500  # services/sync/models.py MAX_BATCH_ITEMS
IDLE_POLL_S = 1.0
# After new rows wake an idle uploader, wait this long so records arriving one by one go as one batch.
LINGER_S = 0.2
_TEXT64 = re.compile(r"[^\x20-\x7e]")
_BLE_ADDRESS = re.compile(r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")


def device_registration(device: DeviceRow) -> dict[str, Any]:
    """The ``POST /v1/devices`` body for a queued device (strings cut to what sync accepts)."""
    body: dict[str, Any] = {
        "kind": device.kind,
        "model": _text64(device.model),
        "serial": _text64(device.serial),
    }
    if device.firmware:
        body["firmware"] = _text64(device.firmware)
    if device.name:
        body["name"] = device.name[:128]
    if device.ble_address and _BLE_ADDRESS.match(device.ble_address):
        body["ble_address"] = device.ble_address.upper()
    return body


def _text64(value: str) -> str:
    return _TEXT64.sub("?", value)[:64] or "?"


class Uploader:
    """Uploads pending queue rows until stopped (module doc)."""

    def __init__(self, queue: OfflineQueue, api: SyncApi, metrics: GatewayMetrics, batch_size: int = MAX_BATCH) -> None:
        self.queue = queue
        self.api = api
        self.metrics = metrics
        self.batch_size = min(batch_size, MAX_BATCH)
        self._failures = 0
        self._bound_user: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Upload whenever there is something pending; back off while the API is unavailable."""
        while not stop.is_set():
            self.queue.changed.clear()
            try:
                progressed = await self.upload_once()
            except (ApiUnavailableError, CredentialsRejectedError) as error:
                await self._back_off(error, stop)
                continue
            if progressed:
                self._failures = 0
                continue
            await _wait_any(stop, self.queue.changed, IDLE_POLL_S)
            if self.queue.changed.is_set():
                await _wait_any(stop, None, LINGER_S)

    async def _back_off(self, error: GatewayError, stop: asyncio.Event) -> None:
        self._failures += 1
        family = error.family or retry.API_UNAVAILABLE
        delay = family.backoff.delay_s(self._failures)
        retry_after = getattr(error, "retry_after_s", None)
        if retry_after is not None:
            delay = max(delay, retry_after)
        self.metrics.api_error(family.name, str(error))
        logger.warning("upload paused %.1f s (%s, attempt %d): %s", delay, family.name, self._failures, error)
        await _wait_any(stop, None, delay)

    async def upload_once(self) -> bool:
        """Upload one batch; False when nothing is pending."""
        batch = await self.queue.next_batch(self.batch_size)
        if batch is None:
            await self._refresh_counts()
            return False
        if self._bound_user is None:
            await self._bind_user()
            batch = await self.queue.next_batch(self.batch_size)
            if batch is None:
                return False
        try:
            device_id = batch.device.sync_device_id or await self._register(batch.device)
            started = time.monotonic()
            results = await self.api.upload(device_id, [reading.payload for reading in batch.readings])
        except ApiRequestError as error:
            await self._refused(batch, error)
            return True
        except ApiUnavailableError:
            await self.queue.count_attempt([reading.client_id for reading in batch.readings])
            raise
        answers: dict[str, UploadResult] = {}
        for reading, result in zip(batch.readings, results, strict=True):
            problem = result.get("error")
            answers[reading.client_id] = UploadResult(
                str(result.get("status")), result.get("id"), problem if isinstance(problem, dict) else None
            )
        await self.queue.mark_results(answers)
        tally = {s: sum(1 for a in answers.values() if a.status == s) for s in ("accepted", "duplicate", "rejected")}
        self.metrics.upload_results(
            tally["accepted"], tally["duplicate"], tally["rejected"], time.monotonic() - started
        )
        if tally["rejected"]:
            logger.warning(
                "%s: sync rejected %d reading(s); see `vitalsync gateway report`", device_id, tally["rejected"]
            )
        await self._refresh_counts()
        return True

    async def _bind_user(self) -> None:
        """Log in, and forget sync device ids that belong to another user than the queue's last one."""
        await self.api.tokens.access_token()
        user_id = self.api.tokens.user_id
        if user_id:
            if await self.queue.bind_user(user_id):
                logger.warning("uploading as another user than before: devices will be registered again")
            self._bound_user = user_id

    async def _register(self, device: DeviceRow) -> str:
        device_id = await self.api.register_device(device_registration(device))
        await self.queue.set_sync_device_id(device.device_key, device_id)
        logger.info("registered %s %s %s with sync as %s", device.kind, device.model, device.serial, device_id)
        return device_id

    async def _refused(self, batch: Batch, error: ApiRequestError) -> None:
        if error.status == 404:
            # The device was unpaired on the server (or belongs to another user): register it again.
            logger.warning("%s: sync does not know device %s; registering again", batch.device.device_key, error)
            await self.queue.set_sync_device_id(batch.device.device_key, None)
            return
        # The device or the whole batch was refused (not one reading): keep the rows, marked with the
        # code, so one bad device cannot hold up the devices queued behind it.
        logger.error("sync refused a batch of %d: %s", len(batch.readings), error)
        failure = {"code": error.code, "message": str(error)}
        await self.queue.mark_results({r.client_id: UploadResult("rejected", None, failure) for r in batch.readings})
        self.metrics.upload_results(0, 0, len(batch.readings), 0.0)

    async def _refresh_counts(self) -> None:
        self.metrics.queue_counts(await self.queue.counts())


async def _wait_any(stop: asyncio.Event, other: asyncio.Event | None, timeout_s: float) -> None:
    """Until ``stop`` or ``other`` is set, or ``timeout_s`` passed."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if other is not None:
        waiters.append(asyncio.ensure_future(other.wait()))
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*waiters, return_exceptions=True)
