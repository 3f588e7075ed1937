"""Request and response bodies of the auth endpoints (DESIGN section 5); field names are protocol."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, field_validator

LOGIN_NAME_RE = re.compile(r"^[A-Za-z0-9._\-@+]{3,64}$")
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class RegisterRequest(StrictModel):
    login_name: Annotated[str, StringConstraints(min_length=3, max_length=64)]
    email: EmailStr | None = None
    password: Password
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    locale: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$")] | None = None

    @field_validator("login_name")
    @classmethod
    def _login_name_chars(cls, value: str) -> str:
        if not LOGIN_NAME_RE.match(value):
            raise ValueError("3-64 characters: letters, digits and . _ - @ +")
        return value


class TokenRequest(StrictModel):
    model_config = ConfigDict(extra="ignore")  # OAuth clients send client_id, scope...
    grant_type: Literal["password", "refresh_token"]
    username: Annotated[str, StringConstraints(min_length=1, max_length=254)] | None = None
    password: Password | None = None
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None


class TokenResponse(BaseModel):
    user_id: str
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type


class LogoutRequest(StrictModel):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class ForgotPasswordRequest(StrictModel):
    username: Annotated[str, StringConstraints(min_length=1, max_length=254)]


class ResetPasswordRequest(StrictModel):
    username: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{8}$")]
    new_password: Password


class ChangePasswordRequest(StrictModel):
    old_password: Password
    new_password: Password
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = Field(
        default=None, description="the session to keep; every other session is revoked"
    )


class UserResponse(BaseModel):
    user_id: str
    login_name: str
    email: str | None
    display_name: str | None
    country: str | None
    locale: str | None
    region: str
    password_migrated: bool
    created_at: str


class UpdateMeRequest(StrictModel):
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    locale: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$")] | None = None
