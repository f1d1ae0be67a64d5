"""What every endpoint does with a request before a route sees it: one contract across the API.

* a body over ``max_request_bytes`` (``CODEGRAPH_MAX_REQUEST_BYTES``, default 5 MB) is refused with 413 before it is
  read whole — by its Content-Length, or while it streams when it has none;
* malformed JSON is refused naming the line and column where parsing stopped;
* request models share ``RequestModel`` (``graph_service/models/base.py``): unknown fields are 422, named.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph_service.errors import problem

DEFAULT_MAX_REQUEST_BYTES = 5 * 1024 * 1024


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """ASGI middleware: 413 problem+json for a body over ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.limit = limit

    def _refusal(self, size: str) -> Any:
        return problem(413, "Request body too large",
                       f"the request body is {size}; the limit is {self.limit:,} bytes "
                       "(CODEGRAPH_MAX_REQUEST_BYTES): send fewer items per request",
                       "/problems/too-large", limit_bytes=self.limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refusal(f"{int(declared):,} bytes")(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refusal(f"over {self.limit:,} bytes")(scope, receive, send)


def json_error_detail(body: Any, position: Any, reason: str) -> tuple[str, dict[str, int]]:
    """"malformed JSON at line 3, column 14: Expecting ',' delimiter" from the document and the error offset."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else body
    if not isinstance(text, str) or not isinstance(position, int):
        return f"malformed JSON: {reason}", {}
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return f"malformed JSON at line {line}, column {column}: {reason}", {"line": line, "column": column}
