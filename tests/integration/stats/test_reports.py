"""The reports API: operator role only (401 without a token, 403 without the role), JSON and CSV.

Tokens come from a test-only ES256 key served by a tiny JWKS server; the app under test trusts that
issuer through ``trusted_issuers`` (nothing in the auth service is involved).
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from datetime import datetime
from typing import Any

import aiomysql
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric import ec

from services.stats.app import create_app
from services.stats.runner import run_job
from shared.auth.issuers import TrustedIssuer
from shared.db.connection import connect
from tests.integration.stats.conftest import Scratch, consume_to_end, publish_outbox, seed_fleet

pytestmark = pytest.mark.integration

ISSUER = "stats-test-issuer"
KID = "stats-test-key"
JOB_NOW = datetime(2026, 3, 20)  # the fleet's readings are from March 2026


class Tokens:
    """Signs access tokens with a key the test JWKS server publishes."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.get_algorithm_by_name("ES256").to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": KID, "alg": "ES256", "use": "sig"}]}

    def token(self, *roles: str) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": "vitalsync", "sub": str(uuid.uuid4()), "iat": now, "exp": now + 600}
        claims["roles"] = list(roles)
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": KID})


@pytest.fixture
async def client(scratch: Scratch, pool: aiomysql.Pool, aiohttp_server: Any, aiohttp_client: Any) -> TestClient:
    tokens = Tokens()
    jwks_app = web.Application()

    async def serve_jwks(request: web.Request) -> web.Response:
        return web.json_response(tokens.jwks())

    jwks_app.router.add_get("/.well-known/jwks.json", serve_jwks)
    server = await aiohttp_server(jwks_app)
    issuer = TrustedIssuer(
        issuer=ISSUER,
        jwks_url=str(server.make_url("/.well-known/jwks.json")),
        audience="vitalsync",
        algorithms=("ES256",),
    )
    settings = scratch.settings.model_copy(update={"trusted_issuers": [issuer]})
    test_client: TestClient = await aiohttp_client(create_app(settings))
    test_client.tokens = tokens  # type: ignore[attr-defined]
    return test_client


def _auth(client: TestClient, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.tokens.token(*roles)}"}  # type: ignore[attr-defined]


async def _fill(scratch: Scratch, pool: aiomysql.Pool) -> None:
    await seed_fleet(pool, scratch.events_topic)
    await publish_outbox(pool, scratch.settings)
    await consume_to_end(pool, scratch)
    conn = await connect(scratch.settings)
    try:
        for job in ("active-devices-by-model", "readings-per-day", "monthly-active-users", "pairings-per-week"):
            run = await run_job(conn, scratch.settings, job, now=JOB_NOW)
            assert run.status == "succeeded", run.error
    finally:
        conn.close()


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


PATHS = [
    "/v1/stats/readings-per-day",
    "/v1/stats/daily-active-users",
    "/v1/stats/active-devices-by-model",
    "/v1/stats/monthly-active-users",
    "/v1/stats/pairings-per-week",
    "/v1/stats/devices/00000000-0000-0000-0000-000000000000",
    "/v1/stats/jobs",
    "/v1/stats/jobs/readings-per-day/runs",
]


@pytest.mark.parametrize("path", PATHS)
async def test_every_report_needs_a_token_with_the_operator_role(client: TestClient, path: str) -> None:
    anonymous = await client.get(path)
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await anonymous.json())["error"]["code"] == "TOKEN_MISSING"
    user = await client.get(path, headers=_auth(client, "user"))
    assert user.status == 403
    assert (await user.json())["error"]["code"] == "FORBIDDEN"


async def test_operator_reads_reports_as_json_and_csv(
    client: TestClient, scratch: Scratch, pool: aiomysql.Pool
) -> None:
    operator = _auth(client, "operator")
    missing = await client.get("/v1/stats/active-devices-by-model", headers=operator)
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "REPORT_NOT_AVAILABLE"
    await _fill(scratch, pool)

    daily = await client.get("/v1/stats/readings-per-day?from=2026-03-10&to=2026-03-12&region=EU", headers=operator)
    assert daily.status == 200
    body = await daily.json()
    assert body["source"] == "stream" and body["from"] == "2026-03-10"
    assert body["columns"] == ["day", "region", "model", "reading_type", "readings", "active_devices", "active_users"]
    row = next(r for r in body["rows"] if r["day"] == "2026-03-10" and r["model"] == "BP-1")
    assert row == {
        "day": "2026-03-10",
        "region": "eu",
        "model": "BP-1",
        "reading_type": "blood_pressure",
        "readings": 7,
        "active_devices": 3,
        "active_users": 3,
    }
    as_csv = await client.get(
        "/v1/stats/readings-per-day?from=2026-03-10&to=2026-03-12&region=eu", headers={**operator, "Accept": "text/csv"}
    )
    assert as_csv.status == 200 and as_csv.content_type == "text/csv"
    table = _csv(await as_csv.text())
    assert table[0] == body["columns"] and len(table) == len(body["rows"]) + 1
    assert ["2026-03-10", "eu", "BP-1", "blood_pressure", "7", "3", "3"] in table

    active = await client.get("/v1/stats/active-devices-by-model?by=model", headers=operator)
    report = await active.json()
    assert report["source"] == "job" and report["run"]["status"] == "succeeded"
    assert {r["model"]: r["active_devices"] for r in report["rows"]} == {"BP-1": 6, "bp-1": 3, "WS-2": 1}
    full = await client.get("/v1/stats/active-devices-by-model?format=csv", headers=operator)
    assert _csv(await full.text())[0] == ["model", "firmware", "region", "active_devices"]

    for path, columns in (
        ("/v1/stats/monthly-active-users", ["month", "region", "active_users"]),
        ("/v1/stats/pairings-per-week?region=jp", ["week", "region", "model", "pairings"]),
        ("/v1/stats/daily-active-users?from=2026-03-10&to=2026-03-10", ["day", "region", "readings", "active_users"]),
        ("/v1/stats/readings-per-day?source=job&from=2026-03-10&to=2026-03-10", None),
    ):
        response = await client.get(path, headers=operator)
        assert response.status == 200, await response.text()
        got = await response.json()
        assert got["rows"], path
        if columns:
            assert got["columns"] == columns

    jobs = await (await client.get("/v1/stats/jobs", headers=operator)).json()
    assert {j["name"]: j["last_run"]["status"] for j in jobs["jobs"] if j["last_run"]} == {
        "active-devices-by-model": "succeeded",
        "readings-per-day": "succeeded",
        "monthly-active-users": "succeeded",
        "pairings-per-week": "succeeded",
    }
    runs = await (await client.get("/v1/stats/jobs/pairings-per-week/runs?limit=5", headers=operator)).json()
    assert [r["status"] for r in runs["runs"]] == ["succeeded"]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/stats/readings-per-day?from=2026-13-01", 400, "INVALID_QUERY"),
        ("/v1/stats/readings-per-day?from=2025-01-01&to=2026-03-01", 400, "INVALID_QUERY"),
        ("/v1/stats/readings-per-day?from=2026-03-02&to=2026-03-01", 400, "INVALID_QUERY"),
        ("/v1/stats/readings-per-day?format=xml", 400, "INVALID_QUERY"),
        ("/v1/stats/active-devices-by-model?by=colour", 400, "INVALID_QUERY"),
        ("/v1/stats/jobs/no-such-job/runs", 404, "JOB_NOT_FOUND"),
        ("/v1/stats/jobs/readings-per-day/runs?limit=0", 400, "INVALID_QUERY"),
        ("/v1/stats/devices/unknown", 404, "DEVICE_NOT_FOUND"),
    ],
)
async def test_bad_queries_are_client_errors(client: TestClient, path: str, status: int, code: str) -> None:
    response = await client.get(path, headers=_auth(client, "operator"))
    assert response.status == status
    assert (await response.json())["error"]["code"] == code


async def test_openapi_lists_the_reports(client: TestClient) -> None:
    spec = await (await client.get("/openapi.json")).json()
    assert set(PATHS[:5]) <= set(spec["paths"])
    assert "/v1/stats/jobs/{job}/runs" in spec["paths"]
    assert spec["paths"]["/v1/stats/jobs"]["get"]["security"] == [{"bearer": []}]
