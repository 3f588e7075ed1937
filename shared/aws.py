"""aiobotocore clients configured from the shared settings (moto server locally, AWS in production)."""

from __future__ import annotations

import logging
import os
from contextlib import AbstractAsyncContextManager
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from shared.settings import CommonSettings

# botocore logs whole request bodies at DEBUG: Cognito passwords, reset codes in emails. Its loggers
# stay at WARNING whatever the root level, so turning on debug logging can never leak them.
_SECRET_BEARING_LOGGERS = ("botocore", "aiobotocore")
_CONFIG = AioConfig(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=15)


def aws_client(settings: CommonSettings, service: str) -> AbstractAsyncContextManager[Any]:
    """An async client context for ``service``; against an emulator, dummy credentials unless real ones are set."""
    for name in _SECRET_BEARING_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    kwargs: dict[str, Any] = {"region_name": settings.aws_region, "config": _CONFIG}
    if settings.aws_endpoint_url:
        kwargs["endpoint_url"] = settings.aws_endpoint_url
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            kwargs.update(aws_access_key_id="testing", aws_secret_access_key="testing")  # noqa: S106 - moto
    return get_session().create_client(service, **kwargs)
