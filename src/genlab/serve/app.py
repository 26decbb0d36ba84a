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
"""


# no `from __future__ import annotations`: FastAPI reads the request models of the
# routes below from their annotations, which must stay objects, not strings
import base64
import io
import logging
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from genlab.api import load, run_data_config
from genlab.apps.anomaly import AnomalyDetector
from genlab.apps.denoising import denoise
from genlab.apps.latent import interpolation_codes
from genlab.apps.outputs import save_png, to_pixels
from genlab.data.model_inputs import model_inputs
from genlab.errors import GenlabError
from genlab.images import save_image_grid
from genlab.models.inference import encode_all
from genlab.models.latent import to_unit_range
from genlab.models.units import to_model_space

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 4096 * 4096
ACCEPTED_TYPES = {"PNG", "JPEG"}
MAP_POINTS = 2000
CALIBRATION_IMAGES = 500
STATIC = Path(__file__).parent / "static"


class Explorer:
    """The model and what the app precomputes about it: test codes, a 2-D map, score calibration."""

    def __init__(self, run: str | Path, device: str = "cpu"):
        self.run = Path(run)
        self.model = load(self.run, device=device).eval()
        capabilities = self.model.capabilities
        if not capabilities.images:
            raise GenlabError("genlab serve shows images; this model works on vectors (use genlab detect or encode)")
        self.model.require("samples", "be explored")
        self.has_encoder = capabilities.label_free_codes
        self.test_x, self.test_y = self._test_split()
        self.codes = self.map_points = self.map_axes = self.detector = None
        if self.has_encoder and self.test_x is not None:
            self._prepare_encoder_views()

    # ---- set-up ------------------------------------------------------------------------

    def _test_split(self):
        try:
            return model_inputs(self.model, run_data_config(self.run, self.model), "test", MAP_POINTS)
        except GenlabError:
            return None, None  # the data is not here: sampling and sliders still work

    def _prepare_encoder_views(self) -> None:
        self.codes = encode_all(self.model, self.test_x)
        self.code_mean = self.codes.mean(0)
        if self.codes.shape[1] <= 2:
            self.map_axes = torch.eye(self.codes.shape[1], 2)  # the code itself (a 1-D code on the x axis)
        else:  # the plane of the two principal directions through the mean
            _, _, directions = torch.linalg.svd(self.codes - self.code_mean, full_matrices=False)
            self.map_axes = directions[:2].T  # (D, 2)
        self.map_points = (self.codes - self.code_mean) @ self.map_axes  # (N, 2)
        calibration = self.test_x[:CALIBRATION_IMAGES]
        score = "elbo" if self.model.capabilities.likelihood else "reconstruction"
        self.detector = AnomalyDetector(model=self.model.model_name, score=score, contamination=0.05)
        self.detector.calibrate_on_inputs(self.model, calibration)

    # ---- views -------------------------------------------------------------------------

    def info(self) -> dict:
        config = self.model.config
        return {"model": self.model.model_name, "run": self.run.name, "data": config.dataset,
                "shape": list(config.data_shape), "latent_dim": config.latent_dim,
                "conditional": self.model.conditional, "classes": config.num_classes,
                "has_encoder": self.has_encoder, "has_map": self.map_points is not None,
                "test_images": 0 if self.test_x is None else len(self.test_x),
                "score": self.detector.score_ if self.detector else None,
                "is_dae": self.model.capabilities.denoiser}

    def sample(self, count: int, seed: int, label: int | None) -> str:
        generator = torch.Generator().manual_seed(seed)
        labels = torch.full((count,), label) if label is not None else None
        return grid_url(self.model, self.model.sample(count, generator, labels), columns=int(np.ceil(np.sqrt(count))))

    def latent_map(self) -> dict:
        self._need_map()
        labels = self.test_y.tolist() if self.test_y is not None else None
        return {"points": self.map_points.tolist(), "labels": labels,
                "axes": "z" if self.codes.shape[1] <= 2 else "principal directions"}

    def decode_point(self, x: float, y: float) -> dict:
        self._need_map()
        code = self.code_mean + self.map_axes @ torch.tensor([x, y], dtype=torch.float32)
        return {"image": self.decode_url(code), "code": code.tolist()}

    def example(self, index: int) -> dict:
        if self.test_x is None:
            raise GenlabError("the test data of this run is not available here")
        if not 0 <= index < len(self.test_x):
            raise GenlabError(f"index must be between 0 and {len(self.test_x) - 1}")
        result = {"image": image_url(self.model, self.test_x[index])}
        if self.codes is not None:
            result["code"] = self.codes[index].tolist()
            result["code_std"] = self.codes.std(0).tolist()
        if self.test_y is not None:
            result["label"] = int(self.test_y[index])
        return result

    def decode_url(self, code, label: int | None = None) -> str:
        z = torch.as_tensor(code, dtype=torch.float32).reshape(1, -1)
        if z.shape[1] != self.model.config.latent_dim:
            raise GenlabError(f"a code has {self.model.config.latent_dim} numbers (got {z.shape[1]})")
        labels = torch.tensor([label]) if label is not None else None
        with torch.no_grad():
            return image_url(self.model, self.model.decode(z, labels)[0])

    def interpolate(self, first: int, second: int, steps: int) -> str:
        self._need_map()
        for index in (first, second):
            if not 0 <= index < len(self.codes):
                raise GenlabError(f"index must be between 0 and {len(self.codes) - 1}")
        codes = interpolation_codes(self.codes[first], self.codes[second], steps)
        with torch.no_grad():
            return grid_url(self.model, self.model.decode(codes), columns=steps)

    def analyze(self, data: bytes) -> dict:
        """Reconstruction, denoised version and anomaly score of one uploaded or drawn image."""
        if not self.has_encoder:
            raise GenlabError(f"a {self.model.model_name} has no encoder: it cannot reconstruct or score images")
        x = self._read_upload(data)
        with torch.no_grad():
            reconstruction = self.model.reconstruct(x)
        score = float(self.detector.decision_function_inputs(x)[0])
        reference = self.detector.decision_scores_
        return {"input": image_url(self.model, x[0]), "reconstruction": image_url(self.model, reconstruction[0]),
                "denoised": image_url(self.model, denoise(self.model, x)[0]),
                "denoiser": "the denoising autoencoder" if self.model.capabilities.denoiser else
                            "this model's reconstruction (serve a dae run for a trained denoiser)",
                "score": round(score, 4), "score_name": self.detector.score_,
                "threshold": round(float(self.detector.threshold_), 4),
                "anomaly": bool(score > self.detector.threshold_),
                "percentile": round(float((reference < score).mean() * 100), 1)}

    def _read_upload(self, data: bytes) -> torch.Tensor:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow refuses larger images before decoding them
        if len(data) > MAX_UPLOAD_BYTES:
            raise GenlabError(f"the image is {len(data) / 1e6:.1f} MB; at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB are accepted")
        try:
            with Image.open(io.BytesIO(data)) as picture:
                if picture.format not in ACCEPTED_TYPES:
                    raise GenlabError(f"{picture.format} images are not accepted; send PNG or JPEG")
                if picture.width * picture.height > MAX_PIXELS:
                    raise GenlabError("the image has too many pixels; send one of at most 4096x4096")
                channels, height, width = self.model.config.data_shape
                picture = picture.convert("RGBA") if picture.mode in ("P", "LA") else picture
                if picture.mode == "RGBA":  # drawn strokes on a transparent canvas: composite onto black
                    background = Image.new("RGBA", picture.size, (0, 0, 0, 255))
                    picture = Image.alpha_composite(background, picture)
                picture = picture.convert("L" if channels == 1 else "RGB").resize((width, height), Image.Resampling.LANCZOS)
                array = np.asarray(picture, dtype=np.uint8)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
            raise GenlabError(f"not a readable PNG or JPEG image ({error})") from None

        stored = array[None, None] if channels == 1 else array.transpose(2, 0, 1)[None]
        return to_model_space(self.model, stored, "upload")

    def _need_map(self) -> None:
        if self.map_points is None:
            raise GenlabError("this model has no encoder or its test data is not here, so there is no latent map")


def image_url(model, image: torch.Tensor) -> str:
    return _png_url(lambda path: save_png(to_pixels(model, image.unsqueeze(0))[0], path))


def grid_url(model, images: torch.Tensor, columns: int) -> str:
    return _png_url(lambda path: save_image_grid(to_unit_range(images.float().cpu(), model.config.value_range), path, columns))


def _png_url(write) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "image.png"
        write(path)
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def create_app(run: str | Path, device: str = "cpu"):
    """The FastAPI application serving `run`."""
    # FastAPI comes with the optional serve extra: imported only when the explorer starts
    try:
        from fastapi import FastAPI, HTTPException, Request
        from fastapi.responses import FileResponse, JSONResponse
        from pydantic import BaseModel, Field
    except ImportError:
        raise GenlabError("genlab serve needs FastAPI and uvicorn: pip install 'genlab[serve]'") from None

    explorer = Explorer(run, device)
    app = FastAPI(title="genlab explorer", docs_url=None, redoc_url=None, openapi_url=None)

    class SampleRequest(BaseModel):
        count: int = Field(16, ge=1, le=64)
        seed: int = Field(0, ge=0, le=2**31 - 1)
        label: int | None = None

    class PointRequest(BaseModel):
        x: float
        y: float

    class CodeRequest(BaseModel):
        code: list[float] = Field(max_length=4096)
        label: int | None = None

    class InterpolateRequest(BaseModel):
        first: int
        second: int
        steps: int = Field(10, ge=2, le=32)

    @app.exception_handler(GenlabError)
    async def user_error(_request, error: GenlabError):
        return JSONResponse(status_code=400, content={"error": str(error)})

    @app.get("/")
    def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/info")
    def info():
        return explorer.info()

    @app.post("/api/sample")
    def sample(request: SampleRequest):
        return {"image": explorer.sample(request.count, request.seed, request.label)}

    @app.get("/api/map")
    def latent_map():
        return explorer.latent_map()

    @app.post("/api/map/decode")
    def decode_point(request: PointRequest):
        return explorer.decode_point(request.x, request.y)

    @app.get("/api/example/{index}")
    def example(index: int):
        return explorer.example(index)

    @app.post("/api/decode")
    def decode(request: CodeRequest):
        return {"image": explorer.decode_url(request.code, request.label)}

    @app.post("/api/interpolate")
    def interpolate(request: InterpolateRequest):
        return {"image": explorer.interpolate(request.first, request.second, request.steps)}

    @app.post("/api/analyze")
    async def analyze(request: Request):
        declared = int(request.headers.get("content-length") or 0)
        if declared > MAX_UPLOAD_BYTES:
            raise HTTPException(413, f"upload too large: at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind not in ("image/png", "image/jpeg"):
            raise HTTPException(415, f"send the image itself as image/png or image/jpeg (got {kind or 'nothing'})")
        body = bytearray()
        async for chunk in request.stream():  # stops reading past the limit whatever the header said
            body += chunk
            if len(body) > MAX_UPLOAD_BYTES:
                raise HTTPException(413, f"upload too large: at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
        return explorer.analyze(bytes(body))

    return app


def serve(run: str | Path, host: str = "127.0.0.1", port: int = 8000, device: str = "cpu") -> None:
    try:
        import uvicorn  # the optional serve extra, as above
    except ImportError:
        raise GenlabError("genlab serve needs FastAPI and uvicorn: pip install 'genlab[serve]'") from None

    app = create_app(run, device)
    logger.info(f"genlab explorer for {run} on http://{host}:{port}/ (Ctrl+C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
