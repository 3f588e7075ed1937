"""The Kii bucket facade under test: the real sync app factory against the stack's MariaDB, with
users registered and logged in through the stack's auth service (Kii registration and token
endpoints behind the edge), so every token is a real one. No mocks."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import aiomysql
import pytest
from aiohttp.test_utils import TestClient
from multidict import CIMultiDict

from infra.local.stack import Stack
from services.sync.app import create_app
from services.sync.config import SyncSettings

APP_ID = "vitalsync"
APP_KEY = "devkey"
PASSWORD = "Vs!kii-facade-9Q"
KII_HEADERS = {"X-Kii-AppID": APP_ID, "X-Kii-AppKey": APP_KEY}


@dataclass
class Reply:
    """One response, read whole."""

    status: int
    headers: CIMultiDict[str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def error_code(self) -> str | None:
        try:
            body = json.loads(self.text)
        except ValueError:
            return None
        return body.get("errorCode") if isinstance(body, dict) else None


@dataclass
class KiiUser:
    """A registered, logged-in user and the sync test client that speaks for them."""

    client: TestClient
    user_id: str
    login_name: str
    token: str
    extra_headers: dict[str, str] = field(default_factory=dict)

    def headers(self, **more: str) -> dict[str, str]:
        return {**KII_HEADERS, "Authorization": f"Bearer {self.token}", **self.extra_headers, **more}

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Reply:
        """One request; ``body`` goes as JSON, ``raw`` as is."""
        sent = self.headers() if auth else dict(KII_HEADERS)
        if content_type is not None and (body is not None or raw is not None):
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        async with self.client.request(method, path, data=data, headers=sent) as response:
            return Reply(response.status, CIMultiDict(response.headers), await response.text())

    def bucket(self, name: str, scope: str = "users/me") -> str:
        """The path of a bucket: ``scope`` is ``users/me``, ``users/<id>``, ``things/<id>``, or ``app``."""
        if scope == "app":
            return f"/api/apps/{APP_ID}/buckets/{name}"
        return f"/api/apps/{APP_ID}/{scope}/buckets/{name}"

    async def create(self, bucket: str, body: dict[str, Any], **kwargs: Any) -> str:
        """Create an object (201 expected); its id."""
        reply = await self.call("POST", f"{bucket}/objects", body, **kwargs)
        assert reply.status == 201, reply.text
        return str(reply.json["objectID"])

    async def query(self, bucket: str, request: dict[str, Any]) -> Reply:
        return await self.call("POST", f"{bucket}/query", request, content_type="application/vnd.kii.QueryRequest+json")

    async def count(self, bucket: str) -> int:
        """Objects in a bucket (COUNT aggregation)."""
        reply = await self.query(
            bucket,
            {
                "bucketQuery": {
                    "clause": {"type": "all"},
                    "aggregations": [{"type": "COUNT", "putAggregationInto": "n"}],
                }
            },
        )
        assert reply.status == 200, reply.text
        return int(reply.json["aggregations"]["n"])


@pytest.fixture
async def client(stack: Stack, aiohttp_client: Any) -> TestClient:
    """The sync app (create_app) on a test server, on the stack's database and auth."""
    return await aiohttp_client(create_app(SyncSettings()))


@pytest.fixture
async def edge(stack: Stack) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{stack.settings.edge_port}") as session:
        yield session


@dataclass(frozen=True)
class Account:
    """A registered user and an access token (15 minutes by default: enough for one module)."""

    user_id: str
    login_name: str
    token: str

    def on(self, client: TestClient) -> KiiUser:
        return KiiUser(client, self.user_id, self.login_name, self.token)


async def register(edge: aiohttp.ClientSession) -> Account:
    """A new user registered with Kii's registration endpoint and logged in with its token endpoint."""
    login_name = f"kf-{uuid.uuid4().hex[:16]}"
    registration = {"loginName": login_name, "password": PASSWORD, "emailAddress": f"{login_name}@example.com"}
    async with edge.post(
        f"/api/apps/{APP_ID}/users",
        json=registration,
        headers={**KII_HEADERS, "Content-Type": "application/vnd.kii.RegistrationRequest+json"},
    ) as response:
        assert response.status == 201, await response.text()
    async with edge.post(
        "/api/oauth2/token", json={"username": login_name, "password": PASSWORD}, headers=KII_HEADERS
    ) as response:
        assert response.status == 200, await response.text()
        token = await response.json()
    return Account(token["id"], login_name, token["access_token"])


@pytest.fixture
async def alice(edge: aiohttp.ClientSession, client: TestClient) -> KiiUser:
    """A fresh user: nothing in their buckets, readings or change log."""
    return (await register(edge)).on(client)


@pytest.fixture
async def bob(edge: aiohttp.ClientSession, client: TestClient) -> KiiUser:
    return (await register(edge)).on(client)


@pytest.fixture(scope="module")
async def member_account(stack: Stack) -> Account:
    """One user for a whole module whose tests each use buckets of their own (registration is slow)."""
    async with aiohttp.ClientSession(f"http://127.0.0.1:{stack.settings.edge_port}") as session:
        return await register(session)


@pytest.fixture
def member(member_account: Account, client: TestClient) -> KiiUser:
    return member_account.on(client)


@pytest.fixture
def bucket_name() -> str:
    """A bucket name no other test (or earlier run) uses in the shared app scope."""
    return f"b{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[aiomysql.Connection]:
    """A direct connection for checking what the facade stored (autocommit: every read is fresh)."""
    settings = stack.settings
    conn = await aiomysql.connect(
        host=settings.db_host,
        port=settings.db_port,
        user=settings.db_user,
        password=settings.db_password.get_secret_value(),
        db=settings.db_name,
        autocommit=True,
        charset="utf8mb4",
    )
    try:
        yield conn
    finally:
        conn.close()


async def rows(conn: aiomysql.Connection, sql: str, *params: object) -> list[tuple[Any, ...]]:
    async with conn.cursor() as cur:
        await cur.execute(sql, params)
        return list(await cur.fetchall())
