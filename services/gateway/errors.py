"""The gateway's exceptions: one base, and each error knows its retry family (what to do next)."""

from __future__ import annotations

from services.gateway import retry


class GatewayError(Exception):
    """Base of every gateway error; ``family`` says how (and whether) to retry."""

    family: retry.RetryFamily | None = None

    @property
    def advice(self) -> str:
        """What the user can do about it."""
        return self.family.advice if self.family else ""


class DeviceUnreachableError(GatewayError):
    """Connecting failed after bleak-retry-connector's own attempts."""

    family = retry.DEVICE_UNREACHABLE


class TransferInterruptedError(GatewayError):
    """The device dropped the link before the transfer finished (records so far are queued)."""

    family = retry.TRANSFER_INTERRUPTED


class DeviceProtocolError(GatewayError):
    """The device answered outside its profile (refused request, RACP error code, missing service)."""

    family = retry.DEVICE_PROTOCOL


class ApiUnavailableError(GatewayError):
    """Sync, auth or the edge did not answer, or answered 5xx / 502-504."""

    family = retry.API_UNAVAILABLE

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ApiThrottledError(ApiUnavailableError):
    """429 from auth or sync; ``retry_after_s`` from the Retry-After header."""

    family = retry.API_THROTTLED


class CredentialsRejectedError(GatewayError):
    """The password grant was refused (wrong user or password, disabled account)."""

    family = retry.CREDENTIALS_REJECTED


class ApiRequestError(GatewayError):
    """A 4xx the gateway cannot fix by retrying the same request (carries the protocol's error code)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
