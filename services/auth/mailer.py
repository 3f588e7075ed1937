"""Outgoing email through SES (moto locally): the password-reset code."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from services.auth.config import AuthSettings
from shared.aws import aws_client


class Mailer:
    """One SES client for the app's lifetime."""

    def __init__(self, settings: AuthSettings) -> None:
        self._settings = settings
        self._stack = AsyncExitStack()
        self._ses: Any = None

    async def start(self) -> None:
        self._ses = await self._stack.enter_async_context(aws_client(self._settings, "ses"))

    async def close(self) -> None:
        await self._stack.aclose()

    async def send_reset_code(self, to: str, code: str, ttl_minutes: int) -> None:
        """Send the one-time code; the body says how long it lives and what to do if unexpected."""
        await self._ses.send_email(
            Source=self._settings.mail_sender,
            Destination={"ToAddresses": [to]},
            Message={
                "Subject": {"Data": "Your VitalSync password reset code"},
                "Body": {
                    "Text": {
                        "Data": (
                            f"Your password reset code is {code}\n\n"
                            f"It expires in {ttl_minutes} minutes. If you did not ask to reset your password, "
                            "ignore this email: your password stays unchanged."
                        )
                    }
                },
            },
        )
