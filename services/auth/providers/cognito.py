"""Amazon Cognito as identity provider, through the admin APIs of DESIGN section 4.

The Cognito username is our user id (the pool has no username attributes), so access tokens carry
``username`` = user id and every service maps tokens to users without a lookup.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from contextlib import AsyncExitStack
from typing import Any

import aiomysql
from botocore.exceptions import BotoCoreError, ClientError

from services.auth.config import AuthSettings
from services.auth.errors import InvalidCredentialsError, ProviderUnavailableError, WeakPasswordError
from services.auth.providers.base import ProviderSession
from services.auth.repo.users import UserRow
from shared.aws import aws_client

log = logging.getLogger(__name__)
_BAD_CREDENTIALS = {
    "NotAuthorizedException",
    "UserNotFoundException",
    "PasswordResetRequiredException",
    "UserNotConfirmedException",
}


class CognitoIdentityProvider:
    """cognito-idp via aiobotocore; the pool and app client are resolved by name when not configured."""

    name = "cognito"

    def __init__(self, settings: AuthSettings) -> None:
        self._settings = settings
        self._stack = AsyncExitStack()
        self._client: Any = None
        self.user_pool_id = settings.cognito_user_pool_id or ""
        self.client_id = settings.cognito_client_id or ""

    async def start(self) -> None:
        self._client = await self._stack.enter_async_context(aws_client(self._settings, "cognito-idp"))
        if not self.user_pool_id:
            pools = await self._call("list_user_pools", MaxResults=60)
            named = [p["Id"] for p in pools["UserPools"] if p["Name"] == self._settings.cognito_user_pool_name]
            if not named:
                raise RuntimeError(f"no Cognito user pool named {self._settings.cognito_user_pool_name!r}")
            self.user_pool_id = named[0]
        if not self.client_id:
            clients = await self._call("list_user_pool_clients", UserPoolId=self.user_pool_id, MaxResults=60)
            named = [
                c["ClientId"]
                for c in clients["UserPoolClients"]
                if c["ClientName"] == self._settings.cognito_client_name
            ]
            if not named:
                raise RuntimeError(f"no Cognito app client named {self._settings.cognito_client_name!r}")
            self.client_id = named[0]

    async def close(self) -> None:
        await self._stack.aclose()

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self._settings.aws_region}.amazonaws.com/{self.user_pool_id}"

    async def create_user(self, cur: aiomysql.Cursor, user: UserRow, password: str | None) -> str:
        attributes = [{"Name": "email", "Value": user.email}] if user.email else []
        created = await self._call(
            "admin_create_user",
            UserPoolId=self.user_pool_id,
            Username=user.id,
            UserAttributes=attributes,
            MessageAction="SUPPRESS",
            TemporaryPassword=secrets.token_urlsafe(24) + "aA1!",
        )
        subject = next(a["Value"] for a in created["User"]["Attributes"] if a["Name"] == "sub")
        if password is not None:
            await self.set_password(cur, user, password)
        return str(subject)

    async def delete_user(self, user: UserRow) -> None:
        await self._call("admin_delete_user", UserPoolId=self.user_pool_id, Username=user.id)

    async def set_password(self, cur: aiomysql.Cursor, user: UserRow, password: str) -> None:
        await self._call(
            "admin_set_user_password",
            UserPoolId=self.user_pool_id,
            Username=user.id,
            Password=password,
            Permanent=True,
        )

    async def authenticate(self, cur: aiomysql.Cursor, user: UserRow, password: str) -> ProviderSession:
        return await self._initiate("ADMIN_USER_PASSWORD_AUTH", {"USERNAME": user.id, "PASSWORD": password})

    async def session_after_password_set(self, cur: aiomysql.Cursor, user: UserRow, password: str) -> ProviderSession:
        return await self.authenticate(cur, user, password)

    async def refresh(self, cur: aiomysql.Cursor, user: UserRow, provider_refresh: str | None) -> ProviderSession:
        if not provider_refresh:
            raise InvalidCredentialsError("session has no provider refresh token")
        session = await self._initiate("REFRESH_TOKEN_AUTH", {"REFRESH_TOKEN": provider_refresh})
        # Cognito keeps the refresh token unless it rotates it; keep ours pointing at a valid one
        return ProviderSession(session.access_token, session.expires_in, session.provider_refresh or provider_refresh)

    async def sign_out_everywhere(self, user: UserRow) -> None:
        await self._call("admin_user_global_sign_out", UserPoolId=self.user_pool_id, Username=user.id)

    async def burn_time(self, password: str) -> None:
        """An auth call for a name that cannot exist costs what a real one does (one round trip)."""
        try:
            await self._initiate(
                "ADMIN_USER_PASSWORD_AUTH", {"USERNAME": f"absent-{uuid.uuid4()}", "PASSWORD": password}
            )
        except InvalidCredentialsError:
            pass

    async def _initiate(self, flow: str, parameters: dict[str, str]) -> ProviderSession:
        result = await self._call(
            "admin_initiate_auth",
            UserPoolId=self.user_pool_id,
            ClientId=self.client_id,
            AuthFlow=flow,
            AuthParameters=parameters,
        )
        tokens = result.get("AuthenticationResult")
        if not tokens:  # a challenge (e.g. NEW_PASSWORD_REQUIRED for an imported user): no password yet
            raise InvalidCredentialsError("wrong login name or password")
        return ProviderSession(tokens["AccessToken"], int(tokens["ExpiresIn"]), tokens.get("RefreshToken"))

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return await getattr(self._client, operation)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _BAD_CREDENTIALS:
                raise InvalidCredentialsError("wrong login name or password") from None
            if code == "InvalidPasswordException":
                raise WeakPasswordError("password does not meet the identity provider's policy") from None
            log.warning("cognito %s failed: %s", operation, code)
            raise ProviderUnavailableError(f"identity provider error ({code})") from None
        except BotoCoreError as exc:
            log.warning("cognito %s unreachable: %s", operation, type(exc).__name__)
            raise ProviderUnavailableError("identity provider unreachable") from None
