"""What stands between a request and the explorer: body size limits and one-line error messages.

Every refusal the explorer sends is a JSON object `{"error": "<one line>"}` that names
the problem and what to send instead. These helpers need nothing from FastAPI, so the
messages can be tested and reused without it.
"""

from __future__ import annotations

import json


def error_body(message: str) -> bytes:
    return json.dumps({"error": " ".join(message.split())}).encode()


def shown(value) -> str:
    """A received value as a message can quote it: short, and never a 10,000-digit number."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        try:
            digits = str(abs(value))
        except ValueError:  # past Python's int-to-text limit
            return "a number too large to show"
        # 10**30 reads as 1e30
        return f"{'-' if value < 0 else ''}{digits[0]}e{len(digits) - 1}" if len(digits) > 12 else str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return repr(value if len(value) <= 30 else value[:27] + "...")
    if isinstance(value, list):
        return "[...]"
    if isinstance(value, dict):
        return "{...}"
    return type(value).__name__


def validation_message(errors) -> str:
    """One line for pydantic's list of validation errors (the first, and how many more)."""
    if not errors:
        return "the request is not valid"
    error = errors[0]
    kind, message = error.get("type", ""), str(error.get("msg", "is not valid"))
    place = [part for part in error.get("loc", ()) if part not in ("body", "path", "query")]
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in place).lstrip(".") or "the body"
    if kind == "missing" and field == "the body":
        line = "the request has no body; send a JSON object"
    elif kind == "missing":
        line = f"{field} is missing; send it in the JSON body"
    elif kind == "extra_forbidden":
        line = f"{field} is not a field of this request; check its spelling"
    elif kind == "json_invalid":
        line = f"the body is not valid JSON ({(error.get('ctx') or {}).get('error', 'parse error')}); send a JSON object"
    elif field == "the body" and isinstance(error.get("input"), (str, bytes)):
        line = "the body was not read as JSON; send a JSON object with Content-Type: application/json"
    elif field == "the body":
        line = f"the body must be a JSON object of named fields (got {shown(error.get('input'))})"
    elif kind == "finite_number":
        line = f"{field} must be a finite number (got {shown(error.get('input'))})"
    else:
        line = f"{field} {shown(error.get('input'))} is refused: {message[:1].lower()}{message[1:]}"
    if len(errors) > 1:
        line += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return line


class BodyLimit:
    """ASGI middleware: refuses bodies over a per-path size (413) before the app reads them.

    `limits` maps a path to (bytes, remedy); `default` is that pair for other paths. The
    whole body is read here, at most that many bytes of it, then handed on; a
    Content-Length that is too large or not a number is refused without reading.
    """

    def __init__(self, app, limits: dict[str, tuple[int, str]], default: tuple[int, str]):
        self.app, self.limits, self.default = app, limits, default

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, remedy = self.limits.get(scope["path"], self.default)
        refusal = f"the request body is larger than {_size(limit)}; {remedy}"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                return await _reply(send, 400, f"Content-Length {shown(declared.decode('latin-1'))} is not a number of bytes")
            if length > limit:
                return await _reply(send, 413, refusal)
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > limit:  # whatever the header said
                return await _reply(send, 413, refusal)
            if not message.get("more_body", False):
                break
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()  # after the body: only the disconnect is left to wait for
            delivered = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        return await self.app(scope, replay, send)


def _size(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit / 1024:g} KB"


async def _reply(send, status: int, message: str) -> None:
    body = error_body(message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
