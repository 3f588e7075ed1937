"""Kii-compatible users and tokens (DESIGN section 6; kii-api.md sections 1.3-1.6 and 8).

Old app versions call these unchanged; they share every use case with the protocol routes, so a
user logs in through either API with the same password.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from services.auth.errors import (
    AccountLockedError,
    AuthServiceError,
    EmailTakenError,
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    LoginNameTakenError,
    UserNotFoundError,
    WeakPasswordError,
)
from services.auth.keys import AUTH_SERVICE, AUTH_SETTINGS
from services.auth.models import RegisterRequest
from services.auth.repo.users import UserRow
from services.auth.routes.client import client_address
from services.auth.routes.principal import authenticated_user
from services.auth.service import IssuedTokens, NewUser
from shared.kii.errors import KiiError, check_app
from shared.web.bodies import read_json
from shared.web.errors import ApiError

routes = web.RouteTableDef()
# kii-api.md 1.3: predefined registration fields; everything else is a custom attribute
_PREDEFINED = {
    "loginName",
    "displayName",
    "country",
    "locale",
    "emailAddress",
    "phoneNumber",
    "phoneNumberVerified",
    "password",
}
_MAX_CUSTOM_BYTES = 63 * 1024


def kii_error_for(exc: Exception) -> KiiError | None:
    """Kii's code and status for a domain or protocol error (kii-api.md section 5 table)."""
    if isinstance(exc, InvalidCredentialsError | InvalidRefreshTokenError):
        # what the JS SDK 2.4.19 expects for a wrong password (kii-api.md section 8)
        return KiiError(400, "invalid_grant", "the username or password is wrong", error_description=exc.message)
    if isinstance(exc, AccountLockedError):
        return KiiError(
            429,
            "TOO_MANY_REQUESTS",
            exc.message,
            headers={"Retry-After": str(exc.retry_after_s)},
            retryAfter=exc.retry_after_s,
        )
    if isinstance(exc, LoginNameTakenError | EmailTakenError):
        return KiiError(409, "USER_ALREADY_EXISTS", exc.message)
    if isinstance(exc, WeakPasswordError):
        if exc.details and "min_length" in exc.details:  # type: ignore[operator]
            return KiiError(400, "PASSWORD_TOO_SHORT", exc.message, minimumLength=exc.details["min_length"])  # type: ignore[index]
        return KiiError(400, "INVALID_INPUT_DATA", exc.message)
    if isinstance(exc, UserNotFoundError):
        return KiiError(404, "USER_NOT_FOUND", exc.message)
    if isinstance(exc, AuthServiceError):
        return KiiError(exc.status, exc.code, exc.message)
    if isinstance(exc, ApiError):
        if exc.status == 401 and exc.code == "TOKEN_MISSING":
            return KiiError(401, "UNAUTHORIZED", "an access token is required")
        if exc.status == 401:
            return KiiError(403, "WRONG_TOKEN", "the access token is invalid, expired or revoked")
        code = {"INVALID_JSON": "INVALID_JSON", "VALIDATION_FAILED": "INVALID_INPUT_DATA"}.get(exc.code, exc.code)
        return KiiError(exc.status, code, exc.message)
    return None


def _token_body(issued: IssuedTokens) -> web.Response:
    return web.json_response(
        {
            "id": issued.user_id,
            "access_token": issued.access_token,
            "refresh_token": issued.refresh_token,
            "expires_in": issued.expires_in,
            "token_type": "bearer",
        },
        headers={"Cache-Control": "no-store"},
    )


def _username(raw: str) -> str:
    """Kii username forms: bare login name or email, ``EMAIL:x``, ``LOGIN_NAME:x`` (phones unsupported)."""
    for prefix in ("EMAIL:", "LOGIN_NAME:"):
        if raw.upper().startswith(prefix):
            return raw[len(prefix) :]
    if raw.upper().startswith(("PHONE:", "+")):
        raise KiiError(400, "invalid_grant", "phone-number login is not supported")
    return raw


async def _token(request: web.Request, path_app: str | None) -> web.Response:
    check_app(request, request.app[AUTH_SETTINGS].kii_apps, path_app)
    body = await read_json(request, allow_form=True)
    if not isinstance(body, dict):
        raise KiiError(400, "INVALID_INPUT_DATA", "the body must be a JSON object")
    grant = body.get("grant_type") or "password"  # JS SDKs omit it for the password grant
    service = request.app[AUTH_SERVICE]
    if grant == "refresh_token":
        refresh = body.get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            raise KiiError(400, "invalid_request", "refresh_token is required")
        return _token_body(await service.refresh(refresh))
    if grant != "password":
        raise KiiError(400, "unsupported_grant_type", "only the password and refresh_token grants are supported")
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or len(username) > 254:
        raise KiiError(400, "invalid_request", "username and password are required")
    address = client_address(request, request.app[AUTH_SETTINGS].trusted_proxies)
    return _token_body(await service.login(_username(username), password, address))


@routes.post("/api/oauth2/token")
async def token(request: web.Request) -> web.Response:
    return await _token(request, None)


@routes.post("/api/apps/{app}/oauth2/token")
async def app_token(request: web.Request) -> web.Response:
    return await _token(request, request.match_info["app"])


def _kii_user(user: UserRow) -> dict[str, Any]:
    custom = {k: v for k, v in user.profile.items() if not k.startswith("_")}
    return {
        **custom,
        "userID": user.id,
        "loginName": user.login_name,
        "displayName": user.display_name,
        "country": user.country,
        "locale": user.locale,
        "emailAddress": user.email,
        "emailAddressVerified": False,
        "phoneNumberVerified": False,
        "_hasPassword": True,
        "_disabled": False,
        "_created": int(user.created_at.timestamp() * 1000),
        "_modified": int(user.updated_at.timestamp() * 1000),
    }


@routes.post("/api/apps/{app}/users")
async def register(request: web.Request) -> web.Response:
    check_app(request, request.app[AUTH_SETTINGS].kii_apps, request.match_info["app"])
    body = await read_json(request)
    if not isinstance(body, dict):
        raise KiiError(400, "INVALID_INPUT_DATA", "the body must be a JSON object")
    login_name, email, password = body.get("loginName"), body.get("emailAddress"), body.get("password")
    if not isinstance(password, str) or not (isinstance(login_name, str) or isinstance(email, str)):
        raise KiiError(400, "INVALID_INPUT_DATA", "loginName or emailAddress, and password, are required")
    custom = {k: v for k, v in body.items() if k not in _PREDEFINED and not k.startswith("_")}
    if len(str(custom).encode()) > _MAX_CUSTOM_BYTES:
        raise KiiError(400, "INVALID_INPUT_DATA", "custom fields exceed 63 KB")
    try:  # the same validation as the protocol route
        checked = RegisterRequest(
            login_name=str(login_name or email),
            email=email,
            password=password,
            display_name=body.get("displayName"),
            country=body.get("country"),
            locale=body.get("locale"),
        )
    except ValidationError as exc:
        raise KiiError(
            400,
            "INVALID_INPUT_DATA",
            "invalid registration fields",
            fields=sorted({".".join(map(str, e["loc"])) for e in exc.errors()}),
        ) from None
    issued = await request.app[AUTH_SERVICE].register(
        NewUser(
            checked.login_name,
            str(checked.email) if checked.email else None,
            checked.password,
            checked.display_name,
            checked.country,
            checked.locale,
            custom,
        )
    )
    user = await request.app[AUTH_SERVICE].get_user(issued.user_id)
    location = f"/api/apps/{request.match_info['app']}/users/{user.id}"
    return web.json_response(
        _kii_user(user),
        status=201,
        headers={"Location": location},
        content_type="application/vnd.kii.RegistrationResponse+json",
    )


async def _own_user_id(request: web.Request) -> str:
    """The caller's id; ``me`` or the caller's own id in the path, anything else is not found."""
    check_app(request, request.app[AUTH_SETTINGS].kii_apps, request.match_info["app"])
    user = await authenticated_user(request)
    wanted = request.match_info["user"]
    if wanted not in ("me", user.id):
        raise KiiError(404, "USER_NOT_FOUND", "user not found", appID=request.match_info["app"])
    return user.id


@routes.get("/api/apps/{app}/users/{user}")
async def get_user(request: web.Request) -> web.Response:
    user = await request.app[AUTH_SERVICE].get_user(await _own_user_id(request))
    return web.json_response(_kii_user(user), content_type="application/vnd.kii.UserDataRetrievalResponse+json")


@routes.post("/api/apps/{app}/users/{user}")
async def update_user(request: web.Request) -> web.Response:
    user_id = await _own_user_id(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise KiiError(400, "INVALID_INPUT_DATA", "the body must be a JSON object")
    service = request.app[AUTH_SERVICE]
    current = await service.get_user(user_id)
    changes: dict[str, object] = {k: body[k] for k in ("displayName", "country", "locale") if k in body}
    renamed = {"displayName": "display_name"}
    profile = {
        **current.profile,
        **{k: v for k, v in body.items() if k not in _PREDEFINED and not k.startswith("_")},
    }
    updated = await service.update_user(
        user_id, {**{renamed.get(k, k): v for k, v in changes.items()}, "profile": profile}
    )
    return web.json_response({"modifiedAt": int(updated.updated_at.timestamp() * 1000)})


@routes.put("/api/apps/{app}/users/{user}/password")
async def change_password(request: web.Request) -> web.Response:
    user_id = await _own_user_id(request)
    body = await read_json(request)
    old, new = (body.get("oldPassword"), body.get("newPassword")) if isinstance(body, dict) else (None, None)
    if not isinstance(old, str) or not isinstance(new, str):
        raise KiiError(400, "INVALID_INPUT_DATA", "oldPassword and newPassword are required")
    await request.app[AUTH_SERVICE].change_password(user_id, old, new, None)
    return web.Response(status=204)


@routes.post("/api/apps/{app}/users/{user}/password/request-reset")
async def request_reset(request: web.Request) -> web.Response:
    check_app(request, request.app[AUTH_SETTINGS].kii_apps, request.match_info["app"])
    target = request.match_info["user"]
    username = target.split(":", 1)[1] if ":" in target else target
    service = request.app[AUTH_SERVICE]
    if ":" not in target:  # a user id: look up its login name
        try:
            username = (await service.get_user(target)).login_name
        except UserNotFoundError:
            return web.Response(status=204)
    # Kii answers 404 for unknown users; we answer 204 always, so the endpoint cannot enumerate users.
    await service.forgot_password(username)
    return web.Response(status=204)
