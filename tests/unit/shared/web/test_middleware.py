"""The request pipeline every service shares: error shape, request ids, metrics, body limit."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from shared.settings import CommonSettings
from shared.web.app import create_base_app
from shared.web.errors import ApiError


async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError("secret-internal-detail")


async def _api_error(request: web.Request) -> web.Response:
    raise ApiError(409, "CONFLICT_X", "it conflicts", {"field": "a"})


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"size": len(await request.read())})


@pytest.fixture
async def client(aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    app = create_base_app("test", CommonSettings.model_construct())
    app.router.add_get("/boom", _boom)
    app.router.add_get("/conflict", _api_error)
    app.router.add_post("/echo", _echo)
    return await aiohttp_client(app)


async def test_unknown_route_is_json_404_with_request_id(client: TestClient) -> None:
    response = await client.get("/nope", headers={"X-Request-Id": "req-123"})
    assert response.status == 404
    assert await response.json() == {"error": {"code": "NOT_FOUND", "message": "Not Found"}}
    assert response.headers["X-Request-Id"] == "req-123"
    assert response.headers["X-VitalSync-Service"] == "test"


async def test_wrong_method_is_405_with_allow_header(client: TestClient) -> None:
    response = await client.post("/boom")
    assert response.status == 405
    assert (await response.json())["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert response.headers["Allow"] == "GET,HEAD"


async def test_api_error_keeps_code_and_details(client: TestClient) -> None:
    response = await client.get("/conflict")
    assert response.status == 409
    assert await response.json() == {
        "error": {"code": "CONFLICT_X", "message": "it conflicts", "details": {"field": "a"}}
    }


async def test_unhandled_error_is_500_without_internals(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        response = await client.get("/boom")
    body = await response.text()
    assert response.status == 500
    assert "secret-internal-detail" not in body
    assert '"code": "INTERNAL"' in body
    assert any("unhandled error on GET /boom" in r.message for r in caplog.records)


async def test_body_over_the_limit_is_413_in_protocol_shape(client: TestClient) -> None:
    ok = await client.post("/echo", data=b"x" * 1024 * 1024)
    assert (ok.status, await ok.json()) == (200, {"size": 1024 * 1024})
    response = await client.post("/echo", data=b"x" * (2 * 1024 * 1024))
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    await client.get("/healthz")
    await client.get("/nope")
    text = await (await client.get("/metrics")).text()
    assert 'http_requests_total{method="GET",route="/healthz",service="test",status="200"} 1.0' in text
    assert 'http_requests_total{method="GET",route="unmatched",service="test",status="404"} 1.0' in text


async def test_hostile_request_id_is_replaced(client: TestClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "x" * 500})
    assert len(response.headers["X-Request-Id"]) == 32
