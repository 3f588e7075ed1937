"""The SQS FIFO queue between master and workers (DESIGN section 8), over aiobotocore.

Messages of one group are sent in order (one request at a time per lane; a group always uses the same
lane), received in order (SQS FIFO hands out a group's next messages only after the previous ones
were deleted or became visible again) and deleted only after their effect committed.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from services.migration.config import MigrationSettings
from services.migration.errors import MigrationError, QueueNotFoundError, QueueUnavailableError
from shared.aws import aws_client

SQS_BATCH = 10
SEND_LANES = 4
SEND_ATTEMPTS = 5
SEND_BACKOFF_S = 0.2


class SendError(MigrationError):
    """Some messages could not be sent after retries; the caller must not commit past them."""


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message to send."""

    body: str
    group_id: str
    deduplication_id: str


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One received message with what the worker needs of its attributes."""

    message_id: str
    receipt_handle: str
    body: str
    group_id: str
    receive_count: int


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """ApproximateNumberOfMessages (visible) and ApproximateNumberOfMessagesNotVisible (in flight)."""

    visible: int
    in_flight: int

    @property
    def total(self) -> int:
        """Messages not yet deleted."""
        return self.visible + self.in_flight


class WorkQueue:
    """The records queue (and its DLQ) of one migration."""

    def __init__(self, client: Any, url: str, dlq_url: str | None) -> None:
        self.client = client
        self.url = url
        self.dlq_url = dlq_url

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send all messages; each group's messages in order. Raises SendError when some could not be sent."""
        lanes: list[list[OutgoingMessage]] = [[] for _ in range(SEND_LANES)]
        for message in messages:
            lanes[zlib.crc32(message.group_id.encode()) % SEND_LANES].append(message)
        await asyncio.gather(*(self._send_lane(lane) for lane in lanes if lane))

    async def _send_lane(self, messages: Sequence[OutgoingMessage]) -> None:
        for start in range(0, len(messages), SQS_BATCH):
            pending = {str(i): m for i, m in enumerate(messages[start : start + SQS_BATCH])}
            for attempt in range(SEND_ATTEMPTS):
                entries = [
                    {
                        "Id": entry_id,
                        "MessageBody": m.body,
                        "MessageGroupId": m.group_id,
                        "MessageDeduplicationId": m.deduplication_id,
                    }
                    for entry_id, m in pending.items()
                ]
                response = await self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
                failed = {entry["Id"] for entry in response.get("Failed", [])}
                pending = {entry_id: m for entry_id, m in pending.items() if entry_id in failed}
                if not pending:
                    break
                await asyncio.sleep(SEND_BACKOFF_S * 2**attempt)
            if pending:
                raise SendError(f"{len(pending)} message(s) were refused by SQS after {SEND_ATTEMPTS} attempts")

    async def receive(self, max_messages: int, wait_s: int, visibility_timeout_s: int | None) -> list[ReceivedMessage]:
        """Up to max_messages messages (long poll of wait_s seconds)."""
        kwargs: dict[str, Any] = {
            "QueueUrl": self.url,
            "MaxNumberOfMessages": max_messages,
            "WaitTimeSeconds": wait_s,
            "AttributeNames": ["ApproximateReceiveCount", "MessageGroupId"],
        }
        if visibility_timeout_s is not None:
            kwargs["VisibilityTimeout"] = visibility_timeout_s
        response = await self.client.receive_message(**kwargs)
        return [
            ReceivedMessage(
                message_id=m["MessageId"],
                receipt_handle=m["ReceiptHandle"],
                body=m["Body"],
                group_id=m.get("Attributes", {}).get("MessageGroupId", ""),
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
            )
            for m in response.get("Messages", [])
        ]

    async def delete(self, messages: Sequence[ReceivedMessage]) -> None:
        """Delete messages whose effect committed (a failed delete only means a harmless redelivery)."""
        for start in range(0, len(messages), SQS_BATCH):
            entries = [
                {"Id": str(i), "ReceiptHandle": m.receipt_handle}
                for i, m in enumerate(messages[start : start + SQS_BATCH])
            ]
            await self.client.delete_message_batch(QueueUrl=self.url, Entries=entries)

    async def retry_later(self, messages: Sequence[ReceivedMessage], delay_s: int) -> None:
        """Make messages visible again after delay_s (instead of the whole visibility timeout)."""
        for start in range(0, len(messages), SQS_BATCH):
            entries = [
                {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": delay_s}
                for i, m in enumerate(messages[start : start + SQS_BATCH])
            ]
            await self.client.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)

    async def depth(self, url: str | None = None) -> QueueDepth:
        """Approximate depth of the queue (or of url, e.g. the DLQ)."""
        response = await self.client.get_queue_attributes(
            QueueUrl=url or self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        attributes = response.get("Attributes", {})
        return QueueDepth(
            int(attributes.get("ApproximateNumberOfMessages", 0)),
            int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )

    async def max_receive_count(self) -> int | None:
        """The redrive policy's maxReceiveCount (None: no DLQ configured)."""
        response = await self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["RedrivePolicy"])
        policy = response.get("Attributes", {}).get("RedrivePolicy")
        return int(json.loads(policy)["maxReceiveCount"]) if policy else None


class DeleteCoalescer:
    """Deletes messages as soon as asked, folding requests that come while one is in flight into one.

    Groups of a received batch finish at different moments and each wants its messages deleted at once
    (FIFO hands out a group's next message only then). One request per group multiplied the requests;
    here the first group's delete goes out alone and the groups finishing during it share the next.
    """

    def __init__(self, queue: WorkQueue, linger_s: float = 0.01) -> None:
        self.queue = queue
        self.linger_s = linger_s
        self._waiting: list[tuple[Sequence[ReceivedMessage], asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def delete(self, messages: Sequence[ReceivedMessage]) -> None:
        """Return once messages were deleted (or raise what the request raised)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((messages, done))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(self.linger_s)
                batch, self._waiting = self._waiting, []
                try:
                    await self.queue.delete([m for messages, _ in batch for m in messages])
                except Exception as error:  # noqa: BLE001 - handed to every caller of the failed request
                    for _, done in batch:
                        done.set_exception(error)
                else:
                    for _, done in batch:
                        done.set_result(None)
        finally:
            self._flushing = None


async def _queue_url(client: Any, name: str) -> str:
    try:
        response = await client.get_queue_url(QueueName=name)
    except ClientError as error:
        raise QueueNotFoundError(
            f"SQS queue {name} does not exist ({error.response.get('Error', {}).get('Code')}); "
            "create it (`vitalsync stack up` creates the queues of infra/local/aws-resources.yaml), or set "
            "VITALSYNC_MIGRATION_QUEUE_NAME or VITALSYNC_MIGRATION_QUEUE_URL to one that exists"
        ) from None
    except BotoCoreError as error:  # no endpoint, no credentials: nothing to retry, the command stops
        raise QueueUnavailableError(
            f"cannot reach SQS to look up queue {name} ({error}); start the stack (`vitalsync stack up`) "
            "or set VITALSYNC_AWS_ENDPOINT_URL (unset for AWS itself) and the AWS credentials"
        ) from None
    return str(response["QueueUrl"])


@asynccontextmanager
async def open_queue(settings: MigrationSettings) -> AsyncIterator[WorkQueue]:
    """The configured queue and DLQ (URLs looked up by name unless given)."""
    async with aws_client(settings, "sqs") as client:
        url = settings.migration_queue_url or await _queue_url(client, settings.migration_queue_name)
        dlq_url = settings.migration_dlq_url
        if dlq_url is None and settings.migration_dlq_name:
            try:
                dlq_url = await _queue_url(client, settings.migration_dlq_name)
            except QueueNotFoundError:
                dlq_url = None
        yield WorkQueue(client, url, dlq_url)
