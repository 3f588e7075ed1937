"""Mobile-sync protocol v1 auth endpoints (DESIGN section 5)."""

from __future__ import annotations

from aiohttp import web

from services.auth.errors import AccountLockedError, AuthServiceError
from services.auth.keys import AUTH_SERVICE, AUTH_SETTINGS, KEYRING
from services.auth.models import (
    ChangePasswordRequest,
    ForgotPasswordRequest,
    LogoutRequest,
    RegisterRequest,
    ResetPasswordRequest,
    TokenRequest,
    TokenResponse,
    UpdateMeRequest,
    UserResponse,
)
from services.auth.repo.users import UserRow
from services.auth.routes.client import client_address
from services.auth.routes.principal import authenticated_user
from services.auth.service import IssuedTokens, NewUser
from shared.web.bodies import parse_body
from shared.web.errors import ApiError
from shared.web.middleware import Handler
from shared.web.openapi import OpenApiDocument, Operation

routes = web.RouteTableDef()


def _tokens(issued: IssuedTokens, status: int = 200) -> web.Response:
    body = TokenResponse(
        user_id=issued.user_id,
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
    )
    return web.json_response(body.model_dump(), status=status, headers={"Cache-Control": "no-store"})


def _user(user: UserRow) -> web.Response:
    body = UserResponse(
        user_id=user.id,
        login_name=user.login_name,
        email=user.email,
        display_name=user.display_name,
        country=user.country,
        locale=user.locale,
        region=user.region,
        password_migrated=user.password_migrated_at is not None or user.legacy_user_id is None,
        created_at=user.created_at.isoformat() + "Z",
    )
    return web.json_response(body.model_dump())


def to_api_error(exc: AuthServiceError) -> ApiError:
    """The protocol's error for a domain error (429s carry Retry-After)."""
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, AccountLockedError) else None
    return ApiError(exc.status, exc.code, exc.message, exc.details, headers)


@web.middleware
async def protocol_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Domain errors on protocol paths become the protocol's JSON errors."""
    try:
        return await handler(request)
    except AuthServiceError as exc:
        if request.path.startswith("/api/"):
            raise
        raise to_api_error(exc) from None


@routes.post("/v1/auth/register")
async def register(request: web.Request) -> web.Response:
    body = await parse_body(request, RegisterRequest)
    issued = await request.app[AUTH_SERVICE].register(
        NewUser(
            body.login_name,
            str(body.email) if body.email else None,
            body.password,
            body.display_name,
            body.country,
            body.locale,
        )
    )
    return _tokens(issued, status=201)


@routes.post("/v1/auth/token")
async def token(request: web.Request) -> web.Response:
    body = await parse_body(request, TokenRequest, allow_form=True)
    service = request.app[AUTH_SERVICE]
    if body.grant_type == "password":
        if body.username is None or body.password is None:
            raise ApiError(400, "VALIDATION_FAILED", "the password grant needs username and password")
        address = client_address(request, request.app[AUTH_SETTINGS].trusted_proxies)
        return _tokens(await service.login(body.username, body.password, address))
    if body.refresh_token is None:
        raise ApiError(400, "VALIDATION_FAILED", "the refresh_token grant needs refresh_token")
    return _tokens(await service.refresh(body.refresh_token))


@routes.post("/v1/auth/logout")
async def logout(request: web.Request) -> web.Response:
    user = await authenticated_user(request)
    body = await parse_body(request, LogoutRequest)
    await request.app[AUTH_SERVICE].logout(user.id, body.refresh_token)
    return web.Response(status=204)


@routes.post("/v1/auth/password/forgot")
async def forgot_password(request: web.Request) -> web.Response:
    body = await parse_body(request, ForgotPasswordRequest)
    await request.app[AUTH_SERVICE].forgot_password(body.username)
    # 202 whether or not the account exists: the answer must not enumerate users
    return web.json_response({"status": "accepted"}, status=202)


@routes.post("/v1/auth/password/reset")
async def reset_password(request: web.Request) -> web.Response:
    body = await parse_body(request, ResetPasswordRequest)
    await request.app[AUTH_SERVICE].reset_password(body.username, body.code, body.new_password)
    return web.Response(status=204)


@routes.put("/v1/auth/password")
async def change_password(request: web.Request) -> web.Response:
    user = await authenticated_user(request)
    body = await parse_body(request, ChangePasswordRequest)
    await request.app[AUTH_SERVICE].change_password(user.id, body.old_password, body.new_password, body.refresh_token)
    return web.Response(status=204)


@routes.get("/v1/users/me")
async def get_me(request: web.Request) -> web.Response:
    return _user(await authenticated_user(request))


@routes.patch("/v1/users/me")
async def patch_me(request: web.Request) -> web.Response:
    user = await authenticated_user(request)
    body = await parse_body(request, UpdateMeRequest)
    changes = body.model_dump(exclude_unset=True)
    return _user(await request.app[AUTH_SERVICE].update_user(user.id, changes))


@routes.get("/.well-known/jwks.json")
async def jwks(request: web.Request) -> web.Response:
    keyring = request.app.get(KEYRING)
    return web.json_response(
        keyring.jwks() if keyring else {"keys": []}, headers={"Cache-Control": "public, max-age=300"}
    )


def describe(doc: OpenApiDocument) -> None:
    """The protocol operations for /openapi.json."""
    for op in (
        Operation("POST", "/v1/auth/register", "Register and log in", RegisterRequest, {201: TokenResponse}),
        Operation("POST", "/v1/auth/token", "Password or refresh_token grant", TokenRequest, {200: TokenResponse}),
        Operation(
            "POST",
            "/v1/auth/logout",
            "End the session of a refresh token",
            LogoutRequest,
            {204: None},
            auth=True,
        ),
        Operation(
            "POST",
            "/v1/auth/password/forgot",
            "Email a reset code (always 202)",
            ForgotPasswordRequest,
            {202: None},
        ),
        Operation(
            "POST",
            "/v1/auth/password/reset",
            "Set a new password with the code",
            ResetPasswordRequest,
            {204: None},
        ),
        Operation(
            "PUT",
            "/v1/auth/password",
            "Change password; other sessions end",
            ChangePasswordRequest,
            {204: None},
            auth=True,
        ),
        Operation("GET", "/v1/users/me", "The caller's profile", None, {200: UserResponse}, auth=True),
        Operation(
            "PATCH",
            "/v1/users/me",
            "Update the caller's profile",
            UpdateMeRequest,
            {200: UserResponse},
            auth=True,
        ),
    ):
        doc.add(op)
