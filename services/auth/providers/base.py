"""The identity-provider seam (DESIGN section 4): Cognito where AWS offers it, the self-hosted
provider elsewhere (China). The service above it owns users, sessions and refresh rotation; a
provider only keeps passwords and mints access tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import aiomysql

from services.auth.repo.users import UserRow


@dataclass(frozen=True)
class ProviderSession:
    """What a successful password check yields: an access token and, for Cognito, its refresh token."""

    access_token: str
    expires_in: int
    provider_refresh: str | None = None


class IdentityProvider(Protocol):
    """Passwords and access tokens. ``cur`` is the caller's open transaction (used by ``local``)."""

    name: str

    async def start(self) -> None:
        """Open clients and load keys; called once when the app starts."""

    async def close(self) -> None:
        """Release clients."""

    async def create_user(self, cur: aiomysql.Cursor, user: UserRow, password: str | None) -> str:
        """Create the identity (without a password when ``None``); returns the provider's subject."""

    async def delete_user(self, user: UserRow) -> None:
        """Compensate a registration whose database transaction failed after the provider call."""

    async def set_password(self, cur: aiomysql.Cursor, user: UserRow, password: str) -> None:
        """Set a permanent password (registration, legacy migration, reset, change)."""

    async def authenticate(self, cur: aiomysql.Cursor, user: UserRow, password: str) -> ProviderSession:
        """Check the password and mint an access token; raises InvalidCredentialsError."""

    async def session_after_password_set(self, cur: aiomysql.Cursor, user: UserRow, password: str) -> ProviderSession:
        """A session right after ``set_password`` with this password (the local provider skips
        re-verifying the hash it just wrote; Cognito still has to authenticate to mint tokens)."""

    async def refresh(self, cur: aiomysql.Cursor, user: UserRow, provider_refresh: str | None) -> ProviderSession:
        """Mint a new access token for a session whose refresh token just rotated."""

    async def sign_out_everywhere(self, user: UserRow) -> None:
        """Invalidate the provider's own sessions of this user (password change and reset)."""

    async def burn_time(self, password: str) -> None:
        """Spend what a real password check costs, so unknown users cannot be told apart by timing."""
