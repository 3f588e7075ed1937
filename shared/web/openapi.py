"""OpenAPI 3.1 documents built from the pydantic models the routes actually use.

Routes declare themselves once (method, path, models, statuses) and the document is generated from
those declarations, so /openapi.json cannot drift from the code's models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
        }
    },
}


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    request: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    auth: bool = False
    tags: tuple[str, ...] = ()


class OpenApiDocument:
    """Collects operations and renders the document."""

    def __init__(self, title: str, version: str = "1") -> None:
        self.title = title
        self.version = version
        self.operations: list[Operation] = []

    def add(self, operation: Operation) -> None:
        self.operations.append(operation)

    def render(self) -> dict[str, Any]:
        schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
        paths: dict[str, Any] = {}

        def ref(model: type[BaseModel]) -> dict[str, str]:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
            return {"$ref": f"#/components/schemas/{model.__name__}"}

        for op in self.operations:
            item: dict[str, Any] = {
                "summary": op.summary,
                "operationId": f"{op.method.lower()}_{op.path}",
                "responses": {},
            }
            if op.tags:
                item["tags"] = list(op.tags)
            if op.auth:
                item["security"] = [{"bearer": []}]
            if op.request is not None:
                item["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": ref(op.request)}},
                }
            for status, model in op.responses.items():
                if model is None:
                    item["responses"][str(status)] = {"description": "no content"}
                else:
                    item["responses"][str(status)] = {
                        "description": "success",
                        "content": {"application/json": {"schema": ref(model)}},
                    }
            item["responses"]["4XX"] = {
                "description": "client error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            paths.setdefault(op.path, {})[op.method.lower()] = item
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            },
        }


def serve_openapi(app: web.Application, document: OpenApiDocument) -> None:
    """Render ``document`` once and serve it at ``/openapi.json``."""
    rendered = document.render()

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(rendered)

    app.router.add_get("/openapi.json", openapi)
