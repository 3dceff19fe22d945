"""The OpenAPI 3.1 document served at GET /v1/openapi.json: the routes the emulator implements."""

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _json(_ERROR, "Error") for status in statuses}


def _operation(
    summary: str, scope: str | None, ok: str, ok_body: dict[str, Any], *errors: int
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {ok: _json(ok_body, summary)}}
    operation["responses"].update(_errors(*errors))
    operation["security"] = [{"bearer": [scope]}] if scope else []
    return operation


_REQUEST_ID = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "string"}}
_OBJ: dict[str, Any] = {"type": "object"}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "AudioLasso (local emulator)", "version": "1"},
    "servers": [{"url": "/"}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "param": {"type": "string"},
                            "request_id": {"type": "string"},
                        },
                    }
                },
            },
            "CreateFile": {
                "type": "object",
                "required": ["file_name", "content_type", "file_size"],
                "properties": {
                    "file_name": {"type": "string"},
                    "content_type": {"type": "string"},
                    "file_size": {"type": "integer", "minimum": 1, "maximum": 500_000_000},
                    "purpose": {"const": "audio.separate.input"},
                },
            },
            "Separate": {
                "type": "object",
                "required": ["input"],
                "properties": {
                    "input": {
                        "type": "object",
                        "required": ["prompt"],
                        "properties": {
                            "file_id": {"type": "string"},
                            "audio_url": {"type": "string", "format": "uri"},
                            "prompt": {"type": "string"},
                            "spans": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                    "webhookUrl": {"type": "string", "format": "uri"},
                    "webhookSecret": {"type": "string"},
                },
            },
        },
    },
    "paths": {
        "/v1/openapi.json": {"get": _operation("This document", None, "200", _OBJ)},
        "/v1/models": {"get": _operation("List models", "models:read", "200", _OBJ, 401, 403)},
        "/v1/files": {
            "post": {
                **_operation("Create an upload", "files:write", "201", _OBJ, 400, 401, 403, 413),
                "requestBody": _json({"$ref": "#/components/schemas/CreateFile"}, "The file to upload"),
            }
        },
        "/v1/files/{file_id}": {
            "get": {
                **_operation("File metadata", "files:read", "200", _OBJ, 401, 403, 404),
                "parameters": [{**_REQUEST_ID, "name": "file_id"}],
            }
        },
        "/v1/queue/audio/separate": {
            "post": {
                **_operation("Submit a separation", "audio:separate", "202", _OBJ, 400, 401, 403, 404),
                "requestBody": _json({"$ref": "#/components/schemas/Separate"}, "The job"),
            }
        },
        "/v1/queue/requests/{request_id}/status": {
            "get": {
                **_operation("Job status", "audio:separate", "200", _OBJ, 401, 403, 404),
                "parameters": [_REQUEST_ID, {"name": "logs", "in": "query", "schema": {"type": "boolean"}}],
            }
        },
        "/v1/queue/requests/{request_id}/status/stream": {
            "get": {
                "summary": "Job status as server-sent events",
                "security": [{"bearer": ["audio:separate"]}],
                "parameters": [_REQUEST_ID, {"name": "logs", "in": "query", "schema": {"type": "boolean"}}],
                "responses": {
                    "200": {"description": "event: status", "content": {"text/event-stream": {}}},
                    **_errors(401, 403, 404),
                },
            }
        },
        "/v1/queue/requests/{request_id}/result": {
            "get": {
                **_operation("Job result", "audio:separate", "200", _OBJ, 401, 403, 404, 409, 410),
                "parameters": [_REQUEST_ID],
            }
        },
    },
}
