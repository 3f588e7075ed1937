"""The legacy platform's login API, for auth's "verify once against the legacy platform" method.

`POST /api/oauth2/token` (and the app-scoped `/api/apps/{appID}/oauth2/token`) answer as Kii does
(reference/kii-api.md sections 1.4 and 8): JSON ``{username, password}`` (grant_type optional, else
"password"; a form-encoded body is accepted too), the app named by ``X-Kii-AppID``; username is the
login name, the email or ``EMAIL:{email}`` (emails match case-insensitively). A password that
verifies against the user's stored legacy hash (`shared.legacy.hash_schemes`) gets 200
``{"id", "access_token", "expires_in", "token_type": "bearer"}``; a wrong password and an unknown
user get the same 400 ``{"errorCode": "invalid_grant", "error_description": ...}``. The app key is
not checked: Kii's newer documentation calls it an arbitrary value (section 1.2).

Knobs for testing callers (concurrency caps, circuit breakers): latency per request, a failure rate
and a "down" mode answering 503 ``RESOURCE_TEMPORARILY_UNAVAILABLE``; `GET /_emulator/stats` counts
requests, `PUT /_emulator/config` changes the knobs while running, `DELETE /_emulator/stats` resets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from shared.legacy.hash_schemes import LegacyHash, LegacyHashError, verify_legacy_password
from simulator.legacy.export_format import HASH_KEY_FILE, MANIFEST_FILE, USERS_FILE, read_jsonl
from simulator.legacy.ids import seeded_random

logger = logging.getLogger(__name__)

# Kii's default token lifetime when no expiresAt is sent (kii-api.md section 1.4).
TOKEN_LIFETIME_S = 2_147_483_647
MAX_BODY_BYTES = 16 * 1024
_INVALID_GRANT = "The user was not found or a wrong password was provided"
_EMAIL_PREFIX = "EMAIL:"
_FORM = "application/x-www-form-urlencoded"


class LegacyDatasetError(Exception):
    """The dataset directory is missing a file or holds a malformed user line."""


@dataclass(frozen=True, slots=True)
class LegacyAccount:
    """What a login needs of one user: the id to answer with and the hash to verify against."""

    user_id: str
    legacy_hash: LegacyHash


class LegacyAccounts:
    """The users of a dataset directory, found by login name or email, and the platform's hash key."""

    def __init__(self, app_id: str, hash_key: bytes, accounts: Mapping[str, LegacyAccount]) -> None:
        self.app_id = app_id
        self.hash_key = hash_key
        self._accounts = accounts

    @classmethod
    def load(cls, directory: Path) -> LegacyAccounts:
        """Read users.jsonl, hash.key and manifest.json; raise LegacyDatasetError naming what is wrong."""
        try:
            manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
            hash_key = (directory / HASH_KEY_FILE).read_bytes()
            records = list(read_jsonl(directory / USERS_FILE))
        except (OSError, ValueError) as exc:
            raise LegacyDatasetError(f"cannot read the dataset in {directory}: {exc}") from exc
        accounts: dict[str, LegacyAccount] = {}
        for line, record in enumerate(records, start=1):
            try:
                account = LegacyAccount(
                    record["legacy_user_id"],
                    LegacyHash.from_record(record["hash_scheme"], record["hash"], record["salt"], record["params"]),
                )
            except (KeyError, TypeError, LegacyHashError) as exc:
                raise LegacyDatasetError(f"{USERS_FILE} line {line}: {exc}") from None
            accounts[record["login_name"]] = account
            if record.get("email"):
                accounts[_EMAIL_PREFIX + record["email"].lower()] = account
        return cls(str(manifest.get("app_id", "")), hash_key, accounts)

    def find(self, username: str) -> LegacyAccount | None:
        """The account for a login name, an email or EMAIL:{email}."""
        if username.upper().startswith(_EMAIL_PREFIX):
            username = username[len(_EMAIL_PREFIX) :]
        elif "@" not in username:
            return self._accounts.get(username)
        return self._accounts.get(_EMAIL_PREFIX + username.lower())

    def __len__(self) -> int:
        return len({account.user_id for account in self._accounts.values()})


@dataclass(slots=True)
class EmulatorKnobs:
    """Behaviour switches; mutable so a test can take the platform down and bring it back."""

    latency_ms: int = 0
    failure_rate: float = 0.0
    down: bool = False


@dataclass(slots=True)
class LoginStats:
    """Token requests seen: all, answered 200, answered otherwise (503s included), 503s, concurrency."""

    logins: int = 0
    succeeded: int = 0
    failures: int = 0
    unavailable: int = 0
    in_flight: int = 0
    max_in_flight: int = 0


ACCOUNTS = web.AppKey("legacy_accounts", LegacyAccounts)
KNOBS = web.AppKey("legacy_knobs", EmulatorKnobs)
STATS = web.AppKey("legacy_stats", LoginStats)
FAILURE_RNG = web.AppKey("legacy_failure_rng", random.Random)


def _kii_error(status: int, code: str, message: str, **extra: object) -> web.Response:
    return web.json_response({"errorCode": code, "message": message, **extra}, status=status)


def _invalid_grant() -> web.Response:
    # One body for a wrong password and an unknown user, so the answer reveals no account.
    return web.json_response({"errorCode": "invalid_grant", "error_description": _INVALID_GRANT}, status=400)


async def _read_credentials(request: web.Request) -> Mapping[str, Any] | None:
    """The token request's fields from a JSON or form body; None when the body is neither."""
    if request.content_type == _FORM:
        return dict(await request.post())
    try:
        body = json.loads(await request.text())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def _token(request: web.Request) -> web.Response:
    stats = request.app[STATS]
    stats.logins += 1
    stats.in_flight += 1
    stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
    try:
        response = await _answer_token(request)
    finally:
        stats.in_flight -= 1
    if response.status == 200:
        stats.succeeded += 1
    else:
        stats.failures += 1
        if response.status == 503:
            stats.unavailable += 1
    return response


async def _answer_token(request: web.Request) -> web.Response:
    knobs = request.app[KNOBS]
    if knobs.latency_ms > 0:
        await asyncio.sleep(knobs.latency_ms / 1000)
    if knobs.down or request.app[FAILURE_RNG].random() < knobs.failure_rate:
        response = _kii_error(503, "RESOURCE_TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable")
        response.headers["Retry-After"] = "1"
        return response
    accounts = request.app[ACCOUNTS]
    app_id = request.match_info.get("app_id") or request.headers.get("X-Kii-AppID")
    if app_id != accounts.app_id:
        return _kii_error(404, "APP_NOT_FOUND", "The application was not found", appID=app_id)
    fields = await _read_credentials(request)
    if fields is None:
        return _kii_error(400, "INVALID_JSON", "The request body is not a JSON object")
    grant_type = fields.get("grant_type", "password")
    if grant_type != "password":
        return web.json_response(
            {
                "errorCode": "unsupported_grant_type",
                "error_description": "Only the password grant is emulated",
            },
            status=400,
        )
    username, password = fields.get("username"), fields.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        return web.json_response(
            {"errorCode": "invalid_request", "error_description": "username and password are required"},
            status=400,
        )
    account = accounts.find(username)
    if account is None:
        return _invalid_grant()
    # Verifying is CPU-bound (scrypt, argon2, bcrypt), so it runs off the event loop.
    verified = await asyncio.to_thread(verify_legacy_password, password, account.legacy_hash, accounts.hash_key)
    if not verified:
        return _invalid_grant()
    return web.json_response(
        {
            "id": account.user_id,
            "access_token": secrets.token_urlsafe(32),
            "expires_in": TOKEN_LIFETIME_S,
            "token_type": "bearer",
        }
    )


async def _stats(request: web.Request) -> web.Response:
    return web.json_response(asdict(request.app[STATS]))


async def _reset_stats(request: web.Request) -> web.Response:
    stats = request.app[STATS]
    stats.logins = stats.succeeded = stats.failures = stats.unavailable = 0
    stats.max_in_flight = stats.in_flight
    return web.Response(status=204)


async def _config(request: web.Request) -> web.Response:
    knobs = request.app[KNOBS]
    if request.method == "PUT":
        try:
            changes = json.loads(await request.text())
            updated = _updated_knobs(knobs, changes)
        except (ValueError, TypeError) as exc:
            return _kii_error(400, "INVALID_INPUT_DATA", str(exc))
        knobs.latency_ms, knobs.failure_rate, knobs.down = (
            updated.latency_ms,
            updated.failure_rate,
            updated.down,
        )
    return web.json_response(asdict(knobs))


def _updated_knobs(knobs: EmulatorKnobs, changes: object) -> EmulatorKnobs:
    """knobs with the given fields replaced, each checked (latency >= 0, rate within 0..1, down a bool)."""
    if not isinstance(changes, dict) or not set(changes) <= {"latency_ms", "failure_rate", "down"}:
        raise ValueError("expected an object with latency_ms, failure_rate and/or down")
    latency = changes.get("latency_ms", knobs.latency_ms)
    rate = changes.get("failure_rate", knobs.failure_rate)
    down = changes.get("down", knobs.down)
    if isinstance(latency, bool) or not isinstance(latency, int) or latency < 0:
        raise ValueError("latency_ms must be a non-negative integer")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
        raise ValueError("failure_rate must be a number from 0 to 1")
    if not isinstance(down, bool):
        raise ValueError("down must be true or false")
    return EmulatorKnobs(latency, float(rate), down)


def _accounts_context(directory: Path) -> Any:
    async def load_accounts(app: web.Application) -> AsyncIterator[None]:
        accounts = await asyncio.to_thread(LegacyAccounts.load, directory)
        app[ACCOUNTS] = accounts
        logger.info("legacy login emulator loaded %d accounts for app %s", len(accounts), accounts.app_id)
        yield

    return load_accounts


def create_legacy_login_app(
    dataset_dir: Path | str,
    *,
    latency_ms: int = 0,
    failure_rate: float = 0.0,
    down: bool = False,
    failure_seed: int | None = None,
) -> web.Application:
    """The emulator app for a dataset directory (written by `legacy seed`); accounts load at start-up.

    failure_seed makes the failure_rate draws repeatable.
    """
    knobs = _updated_knobs(EmulatorKnobs(), {"latency_ms": latency_ms, "failure_rate": failure_rate, "down": down})
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[KNOBS] = knobs
    app[STATS] = LoginStats()
    app[FAILURE_RNG] = seeded_random(failure_seed)
    app.cleanup_ctx.append(_accounts_context(Path(dataset_dir)))
    app.router.add_post("/api/oauth2/token", _token)
    app.router.add_post("/api/apps/{app_id}/oauth2/token", _token)
    app.router.add_get("/_emulator/stats", _stats)
    app.router.add_delete("/_emulator/stats", _reset_stats)
    app.router.add_get("/_emulator/config", _config)
    app.router.add_put("/_emulator/config", _config)
    return app
