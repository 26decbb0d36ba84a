"""`genlab serve`: a local web app to explore one trained model (FastAPI).

The page (static/index.html, no outside resources) talks to a small JSON API:

    GET  /api/info              what the model offers (encoder, classes, image size)
    POST /api/sample            a grid of new samples            {count, seed, label?}
    GET  /api/map               2-D map of test codes with labels (PCA beyond 2-D)
    POST /api/map/decode        the image at a point of that map {x, y}
    GET  /api/example/{index}   a test image and its code
    POST /api/decode            the image of a code              {code, label?}
    POST /api/interpolate       decodings between two test images {first, second, steps}
    POST /api/analyze           an uploaded or drawn image: reconstruction, denoised, anomaly score

Uploads are read by Pillow only (PNG or JPEG, at most MAX_UPLOAD_BYTES); nothing that
arrives is unpickled or evaluated. Images travel as PNG data URLs.

Every number received is checked before it reaches the model (types, ranges, finiteness,
the model's classes, code length and size, the map's extent); a refusal is a 4xx with
`{"error": "<one line>"}`. Model work runs on one worker thread behind a bounded queue
(worker.py), so /api/info answers at once while images are scored; a full queue is a 503.
"""


# no `from __future__ import annotations`: FastAPI reads the request models of the
# routes below from their annotations, which must stay objects, not strings
import contextlib
import errno
import logging
import socket
from pathlib import Path
from typing import Annotated

from genlab.errors import GenlabError
from genlab.serve.explorer import (
    MAX_CODE_LENGTH,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_STEPS,
    MAX_UPLOAD_BYTES,
    Explorer,
)
from genlab.serve.guards import BodyLimit, validation_message
from genlab.serve.worker import ExplorerBusy, ModelWorker

logger = logging.getLogger(__name__)
MAX_JSON_BYTES = 256 * 1024  # a code of 4096 numbers is about 100 KB of JSON
QUEUE_LIMIT = 8  # model requests running or waiting; more are answered 503
STATIC = Path(__file__).parent / "static"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def create_app(run: str | Path, device: str = "cpu", queue_limit: int = QUEUE_LIMIT):
    """The FastAPI application serving `run`; at most `queue_limit` model requests wait at once."""
    # FastAPI comes with the optional serve extra: imported only when the explorer starts
    try:
        from fastapi import FastAPI, HTTPException, Request
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import FileResponse, JSONResponse
        from pydantic import BaseModel, ConfigDict, Field
        from starlette.exceptions import HTTPException as StarletteHTTPException
    except ImportError:
        raise GenlabError("genlab serve needs FastAPI and uvicorn: pip install 'genlab[serve]'") from None

    explorer = Explorer(run, device)
    worker = ModelWorker(queue_limit)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        worker.close()

    app = FastAPI(title="genlab explorer", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.explorer, app.state.worker = explorer, worker
    app.add_middleware(BodyLimit, limits={"/api/analyze": (MAX_UPLOAD_BYTES, "send a smaller PNG or JPEG")},
                       default=(MAX_JSON_BYTES, "send a smaller JSON body"))

    # strict: "3" or true is not a number, and a misspelt field is refused rather than ignored
    strict = ConfigDict(strict=True, extra="forbid")
    Finite = Annotated[float, Field(allow_inf_nan=False)]

    class SampleRequest(BaseModel):
        model_config = strict
        count: int = Field(16, ge=1, le=MAX_SAMPLES)
        seed: int = Field(0, ge=0, le=MAX_SEED)
        label: int | None = None

    class PointRequest(BaseModel):
        model_config = strict
        x: Finite
        y: Finite

    class CodeRequest(BaseModel):
        model_config = strict
        code: list[Finite] = Field(min_length=1, max_length=MAX_CODE_LENGTH)
        label: int | None = None

    class InterpolateRequest(BaseModel):
        model_config = strict
        first: int
        second: int
        steps: int = Field(10, ge=2, le=MAX_STEPS)

    def refusal(status: int, message: str, headers: dict | None = None):
        return JSONResponse(status_code=status, content={"error": " ".join(message.split())}, headers=headers)

    @app.exception_handler(GenlabError)
    async def user_error(_request, error: GenlabError):
        return refusal(400, str(error))

    @app.exception_handler(ExplorerBusy)
    async def busy(_request, error: ExplorerBusy):
        return refusal(503, str(error), headers={"Retry-After": "1"})

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, error: RequestValidationError):
        return refusal(422, validation_message(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, error: StarletteHTTPException):
        if error.status_code == 404:
            message = f"there is no {request.url.path} here; the explorer's API is under /api/ (info, sample, map, ...)"
        elif error.status_code == 405:
            message = f"{request.method} is not accepted by {request.url.path}"
        else:
            message = str(error.detail)
        return refusal(error.status_code, message, headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def failure(_request, error: Exception):
        logger.exception("the explorer failed on a request")
        return refusal(500, f"internal error ({type(error).__name__}); the server log has the details")

    @app.get("/")
    def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    # cheap answers from precomputed values: on the event loop, never queued behind model work
    @app.get("/api/info")
    async def info():
        return explorer.info()

    @app.get("/api/map")
    async def latent_map():
        return explorer.latent_map()

    @app.post("/api/sample")
    async def sample(request: SampleRequest):
        return await worker.run(explorer.sample, request.count, request.seed, request.label)

    @app.post("/api/map/decode")
    async def decode_point(request: PointRequest):
        return await worker.run(explorer.decode_point, request.x, request.y)

    @app.get("/api/example/{index}")
    async def example(index: int):
        return await worker.run(explorer.example, index)

    @app.post("/api/decode")
    async def decode(request: CodeRequest):
        return {"image": await worker.run(explorer.decode_url, request.code, request.label)}

    @app.post("/api/interpolate")
    async def interpolate(request: InterpolateRequest):
        return await worker.run(explorer.interpolate, request.first, request.second, request.steps)

    @app.post("/api/analyze")
    async def analyze(request: Request):
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind not in ("image/png", "image/jpeg"):
            raise HTTPException(415, f"send the image itself as image/png or image/jpeg (got {kind or 'nothing'})")
        # BodyLimit has already refused anything over MAX_UPLOAD_BYTES
        return await worker.run(explorer.analyze, await request.body())

    return app


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, or a one-line GenlabError saying why it cannot be."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError):
        raise GenlabError(f"--host {host} is not an address this machine can resolve; pass an IP such as 127.0.0.1") from None
    listener = socket.socket(family, kind, protocol)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart may reuse the port at once
    try:
        listener.bind(address)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise GenlabError(f"port {port} on {host} is in use; pass --port N or stop the other server") from None
        if error.errno == errno.EACCES:
            raise GenlabError(f"port {port} on {host} needs privileges this user lacks; pass --port 1024 or above") from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise GenlabError(f"{host} is not an address of this machine; pass --host 127.0.0.1 or one of its own") from None
        raise GenlabError(f"cannot listen on {host} port {port} ({error.strerror}); pass another --host or --port") from None
    return listener


def serve(run: str | Path, host: str = "127.0.0.1", port: int = 8000, device: str = "cpu",
          queue_limit: int = QUEUE_LIMIT) -> None:
    try:
        import uvicorn  # the optional serve extra, as above
    except ImportError:
        raise GenlabError("genlab serve needs FastAPI and uvicorn: pip install 'genlab[serve]'") from None

    # the port is taken first: a busy one is reported before the model loads, and cannot be lost after
    listener = listening_socket(host, port)
    if host not in LOOPBACK:
        logger.warning(f"note: listening on {host}: other machines that reach it can use the explorer")
    try:
        app = create_app(run, device, queue_limit)
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        logger.info(f"genlab explorer for {run} on http://{host}:{port}/ (Ctrl+C stops it)")
        server.run(sockets=[listener])
    finally:
        listener.close()
    if not server.started:
        raise GenlabError(f"the explorer could not start on {host} port {port}; the lines above say why")
