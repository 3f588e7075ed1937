"""Domain errors of the auth service; the routes' error mapping turns them into HTTP (protocol or Kii shape)."""

from __future__ import annotations


class AuthServiceError(Exception):
    """Base: ``code`` is the protocol's error code, ``status`` its HTTP status."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, details: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidCredentialsError(AuthServiceError):
    """Wrong login name, wrong password, or unknown user: one answer for all (no enumeration)."""

    status = 401
    code = "INVALID_CREDENTIALS"


class InvalidRefreshTokenError(AuthServiceError):
    status = 401
    code = "INVALID_REFRESH_TOKEN"


class AccountLockedError(AuthServiceError):
    """Too many failures; ``retry_after_s`` goes to the Retry-After header."""

    status = 429
    code = "TOO_MANY_ATTEMPTS"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed attempts; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class LoginNameTakenError(AuthServiceError):
    status = 409
    code = "LOGIN_NAME_TAKEN"


class EmailTakenError(AuthServiceError):
    status = 409
    code = "EMAIL_TAKEN"


class WeakPasswordError(AuthServiceError):
    status = 400
    code = "WEAK_PASSWORD"


class PasswordResetRequiredError(AuthServiceError):
    """The old password was right but cannot move to the identity provider (e.g. Cognito's 6-character
    minimum); the user must reset it."""

    status = 403
    code = "PASSWORD_RESET_REQUIRED"


class InvalidResetCodeError(AuthServiceError):
    status = 400
    code = "INVALID_RESET_CODE"


class UserNotFoundError(AuthServiceError):
    status = 404
    code = "USER_NOT_FOUND"


class ProviderUnavailableError(AuthServiceError):
    """The identity provider (or the legacy platform) did not answer; the client may retry."""

    status = 503
    code = "IDENTITY_PROVIDER_UNAVAILABLE"
