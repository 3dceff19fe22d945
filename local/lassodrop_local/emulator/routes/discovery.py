"""What the service says about itself: the OpenAPI document and the model list."""

from typing import TYPE_CHECKING

from lassodrop_local.emulator.api import Reply

if TYPE_CHECKING:
    from lassodrop_local.emulator.handler import Handler


def openapi(request: "Handler") -> Reply:
    return Reply(200, request.app.openapi)


def models(request: "Handler") -> Reply:
    return request.app.api.models()
