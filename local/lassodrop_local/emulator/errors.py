"""The service's error answer: `{"error": {"code", "message", "param"?, "request_id"?}}`."""

from typing import Any


class ApiError(Exception):
    """Raised anywhere in a route; the server turns it into the documented error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        param: str | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.param, self.request_id = param, request_id
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.request_id is not None:
            error["request_id"] = self.request_id
        return {"error": error}


def invalid(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, "INVALID_REQUEST", message, param)


def not_found(what: str, param: str | None = None) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{what} not found.", param)


def expired(message: str) -> ApiError:
    return ApiError(410, "EXPIRED", message)
