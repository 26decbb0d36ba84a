"""The model behind the explorer: what it precomputes (test codes, a 2-D map, score calibration) and the checked
operations the routes of app.py run on the worker thread (sampling, decoding, interpolation, analysing uploads).
A model of audio also sends its samples, test clips and interpolations as WAV to play.

A run with a detector (`genlab detect fit` on images) is analysed with that detector: its score, threshold and
explanation map; such a run need not generate (the default ae-ensemble does not), and then only analysis shows."""

from __future__ import annotations

import base64
import io
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from genlab.api import load, run_data_config
from genlab.apps.anomaly import PER_FEATURE, AnomalyDetector
from genlab.apps.denoising import denoise
from genlab.apps.latent import interpolation_codes
from genlab.apps.outputs import clip_reel, save_png, to_pixels, to_waveforms
from genlab.data.audio import wav_bytes
from genlab.data.model_inputs import model_inputs
from genlab.errors import GenlabError
from genlab.images import heat_maps, save_image_grid
from genlab.models.inference import encode_all
from genlab.models.latent import to_unit_range
from genlab.models.units import to_model_space
from genlab.runs import RunDirectory
from genlab.serve.guards import shown

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 4096 * 4096
MAX_SAMPLES = 64
MAX_STEPS = 32
MAX_CLIPS = 8  # samples of a model of audio also sent as clips to play (each takes a Griffin-Lim)
MAX_SEED = 2**63 - 1
MAX_CODE_LENGTH = 4096
CODE_LIMIT_FLOOR = 10.0  # |z| a code may reach even when the test codes are small (or absent, as for a GAN)
ACCEPTED_TYPES = {"PNG", "JPEG"}
MAP_POINTS = 2000
CALIBRATION_IMAGES = 500



class Explorer:
    """The model and what the app precomputes about it: test codes, a 2-D map, score calibration."""

    def __init__(self, run: str | Path, device: str = "cpu"):
        self.run = Path(run)
        # the run's own detector (genlab detect fit) when it has one, with its model; else a detector is
        # calibrated below on test images
        self.detector, self.detector_problem = None, None
        if RunDirectory(self.run).detector_path.is_file():
            try:
                self.detector = AnomalyDetector.load(self.run, device=device)
                self.detector.training_reference()  # an older detector.json keeps no quantiles of its scores
            except GenlabError as error:  # a run that generates is still explored, its detector set aside
                self.detector, self.detector_problem = None, str(error)
        self.saved_detector = self.detector is not None
        self.model = (self.detector.model_ if self.saved_detector else load(self.run, device=device)).eval()
        if self.detector_problem and not self.model.capabilities.samples:
            raise GenlabError(self.detector_problem)
        capabilities = self.model.capabilities
        if not capabilities.images:
            raise GenlabError("genlab serve shows images; this model works on vectors (use genlab detect or encode)")
        if not self.saved_detector:
            self.model.require("samples", "be explored")
        self.can_sample = capabilities.samples
        self.has_encoder = capabilities.label_free_codes
        self.test_x, self.test_y = self._test_split()
        self.codes = self.map_points = self.map_axes = self.map_extent = None
        if self.has_encoder and self.test_x is not None:
            self._prepare_encoder_views()
        # sliders reach 3 standard deviations past a test code, so 4x the largest |z| covers them
        largest = float(self.codes.abs().max()) if self.codes is not None and len(self.codes) else 0.0
        self.code_limit = float(f"{max(CODE_LIMIT_FLOOR, 4 * largest):.2g}")

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
        low, high = self.map_points.min(0).values, self.map_points.max(0).values
        # the page pads the map and widens a flat axis by 1: accept a margin of the span (at least 1)
        margin = torch.clamp(high - low, min=1.0)
        self.map_extent = torch.stack([low - margin, high + margin], 1).tolist()  # [[x0, x1], [y0, y1]]
        if self.detector is None:
            calibration = self.test_x[:CALIBRATION_IMAGES]
            score = "elbo" if self.model.capabilities.likelihood else "reconstruction"
            self.detector = AnomalyDetector(model=self.model.model_name, score_by=score, contamination=0.05)
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
                "detector": "saved" if self.saved_detector else "calibrated" if self.detector else None,
                "detector_problem": self.detector_problem,
                "can_sample": self.can_sample, "has_analysis": self.detector is not None,
                "is_dae": self.model.capabilities.denoiser,
                "audio_rate": config.audio["rate"] if config.audio else None}

    def sample(self, count: int, seed: int, label: int | None) -> dict:
        if not self.can_sample:
            raise GenlabError(f"a {self.model.model_name} does not generate; this run is served for its detector's "
                              "analysis (POST /api/analyze)")
        if not 1 <= count <= MAX_SAMPLES:
            raise GenlabError(f"count {shown(count)} is out of range: ask for 1 to {MAX_SAMPLES} samples")
        if not 0 <= seed <= MAX_SEED:
            raise GenlabError(f"seed {shown(seed)} is out of range: use 0 to 2**63-1")
        self._check_label(label)
        generator = torch.Generator().manual_seed(seed)
        labels = torch.full((count,), label) if label is not None else None
        samples = self.model.sample(count, generator, labels)
        return {"image": grid_url(self.model, samples, columns=int(np.ceil(np.sqrt(count)))),
                "audio": self._clip_urls(samples[:MAX_CLIPS])}

    def latent_map(self) -> dict:
        self._need_map()
        labels = self.test_y.tolist() if self.test_y is not None else None
        return {"points": self.map_points.tolist(), "labels": labels,
                "axes": "z" if self.codes.shape[1] <= 2 else "principal directions"}

    def decode_point(self, x: float, y: float) -> dict:
        self._need_map()
        for name, value, (low, high) in (("x", x, self.map_extent[0]), ("y", y, self.map_extent[1])):
            if not low <= value <= high:  # NaN fails this too
                raise GenlabError(f"{name} {shown(value)} is outside the map; pick {name} between {low:.3g} and {high:.3g}")
        code = self.code_mean + self.map_axes @ torch.tensor([x, y], dtype=torch.float32)
        # the extent bounds the code already; the code limit below is for codes typed in by hand
        return {"image": self._decode_image(code.reshape(1, -1)), "code": code.tolist()}

    def example(self, index: int) -> dict:
        if self.test_x is None:
            raise GenlabError("the test data of this run is not available here")
        self._check_index("index", index, len(self.test_x))
        result = {"image": image_url(self.model, self.test_x[index]), "audio": self._clip_urls(self.test_x[index:index + 1])}
        if self.codes is not None:
            result["code"] = self.codes[index].tolist()
            result["code_std"] = self.codes.std(0).tolist()
        if self.test_y is not None:
            result["label"] = int(self.test_y[index])
        return result

    def decode_url(self, code, label: int | None = None) -> str:
        self._check_label(label)
        z = torch.as_tensor(code, dtype=torch.float64).reshape(1, -1)  # float64: 1e308 is not inf yet
        length = self.model.config.latent_dim
        if z.shape[1] != length:
            raise GenlabError(f"a code has {length} numbers for this model (got {z.shape[1]}); send exactly {length}")
        if not torch.isfinite(z).all():
            raise GenlabError("a code holds NaN or infinity; send finite numbers")
        largest = float(z.abs().max())
        if largest > self.code_limit:
            raise GenlabError(f"code value {largest:.3g} is too large: this model's codes stay within "
                              f"-{self.code_limit:g}..{self.code_limit:g}")
        return self._decode_image(z.float(), label)

    def _decode_image(self, z: torch.Tensor, label: int | None = None) -> str:
        labels = torch.tensor([label]) if label is not None else None
        with torch.no_grad():
            return image_url(self.model, self.model.decode(z, labels)[0])

    def interpolate(self, first: int, second: int, steps: int) -> dict:
        self._need_map()
        self._check_index("first", first, len(self.codes))
        self._check_index("second", second, len(self.codes))
        if not 2 <= steps <= MAX_STEPS:
            raise GenlabError(f"steps {shown(steps)} is out of range: use 2 to {MAX_STEPS}")
        codes = interpolation_codes(self.codes[first], self.codes[second], steps)
        with torch.no_grad():
            decoded = self.model.decode(codes)
        # a model of audio: the whole morph, one clip after another
        reel = [_wav_url(wav_bytes(*clip_reel(self.model, decoded)))] if self.model.config.audio else None
        return {"image": grid_url(self.model, decoded, columns=steps), "audio": reel}

    def _clip_urls(self, x: torch.Tensor) -> list[str] | None:
        """A model of audio's spectrograms as playable WAV data URLs (phase by Griffin-Lim); None for images."""
        if not self.model.config.audio:
            return None
        rate = self.model.config.audio["rate"]
        return [_wav_url(wav_bytes(wave, rate)) for wave in to_waveforms(self.model, x)]

    def analyze(self, data: bytes) -> dict:
        """Reconstruction, denoised version, anomaly score and its explanation map of one uploaded or drawn image."""
        if self.detector is None:
            raise GenlabError(f"a {self.model.model_name} has no encoder: it cannot reconstruct or score images"
                              if not self.has_encoder else "this run's test data is not here to calibrate a score; "
                              "fit a detector into the run with genlab detect fit")
        x = self._read_upload(data)
        with torch.no_grad():
            reconstruction = self.model.reconstruct(x)
        score = float(self.detector.anomaly_scores_inputs(x)[0])
        if self.detector.score_ in PER_FEATURE:  # the parts that sum to the score, as genlab detect explain gives
            parts = torch.as_tensor(self.detector.explain_inputs(x))
        else:  # a likelihood does not split into pixels: where the reconstruction misses instead
            parts = (reconstruction.float() - x.float()).square()
        below = float(self.detector.training_reference().share_at_or_below(np.array([score]))[0])
        return {"input": image_url(self.model, x[0]), "reconstruction": image_url(self.model, reconstruction[0]),
                "denoised": image_url(self.model, denoise(self.model, x)[0]) if self.has_encoder else None,
                "denoiser": "the denoising autoencoder" if self.model.capabilities.denoiser else
                            "this model's reconstruction (serve a dae run for a trained denoiser)",
                "explanation": heat_map_url(parts),
                "score": round(score, 4), "score_name": self.detector.score_,
                "threshold": round(float(self.detector.threshold_), 4),
                "anomaly": bool(score > self.detector.threshold_),
                "reference": "training images" if self.saved_detector else "test images",
                "percentile": round(below * 100, 1)}

    def _read_upload(self, data: bytes) -> torch.Tensor:
        if len(data) > MAX_UPLOAD_BYTES:
            raise GenlabError(f"the image is {len(data) / 1e6:.1f} MB; at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB are accepted")
        try:
            # open() reads the header only; the pixel count is checked before anything is decoded
            with Image.open(io.BytesIO(data)) as picture:
                if picture.format not in ACCEPTED_TYPES:
                    raise GenlabError(f"{picture.format} images are not accepted; send PNG or JPEG")
                if picture.width * picture.height > MAX_PIXELS:
                    raise GenlabError(f"the image has {picture.width}x{picture.height} pixels; "
                                      f"send one of at most {MAX_PIXELS} pixels (4096x4096)")
                channels, height, width = self.model.config.data_shape
                picture = picture.convert("RGBA") if picture.mode in ("P", "LA") else picture
                if picture.mode == "RGBA":  # drawn strokes on a transparent canvas: composite onto black
                    background = Image.new("RGBA", picture.size, (0, 0, 0, 255))
                    picture = Image.alpha_composite(background, picture)
                picture = picture.convert("L" if channels == 1 else "RGB").resize((width, height), Image.Resampling.LANCZOS)
                array = np.asarray(picture, dtype=np.uint8)
        except GenlabError:
            raise  # already one line (it is a ValueError too, so it must pass the clause below untouched)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow's own guard on header sizes (a warning, or an error where warnings are errors)
            raise GenlabError(f"the image declares too many pixels; send one of at most {MAX_PIXELS} pixels (4096x4096)") from None
        except UnidentifiedImageError:
            raise GenlabError("the upload is not a readable PNG or JPEG image; send the image file itself") from None
        except (OSError, ValueError, SyntaxError, EOFError) as error:
            raise GenlabError(f"the upload is not a readable PNG or JPEG image ({error}); send a complete image file") from None

        stored = array[None, None] if channels == 1 else array.transpose(2, 0, 1)[None]
        return to_model_space(self.model, stored, "upload")

    def _check_label(self, label: int | None) -> None:
        if label is None:
            return
        if not self.model.conditional:
            raise GenlabError(f"label {shown(label)} was sent but this {self.model.model_name} is not conditional; "
                              "leave label out, or serve a conditional model (cvae, cgan)")
        classes = self.model.config.num_classes
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < classes:
            raise GenlabError(f"label {shown(label)} is out of range: this model has classes 0-{classes - 1}")

    @staticmethod
    def _check_index(name: str, index: int, count: int) -> None:
        if not 0 <= index < count:
            raise GenlabError(f"{name} {shown(index)} is out of range: this run has test images 0-{count - 1}")

    def _need_map(self) -> None:
        if self.map_points is None:
            raise GenlabError("this model has no encoder or its test data is not here, so there is no latent map")


def image_url(model, image: torch.Tensor) -> str:
    return _png_url(lambda path: save_png(to_pixels(model, image.unsqueeze(0))[0], path))


def heat_map_url(parts: torch.Tensor) -> str:
    """A (1, C, H, W) split of a score into pixels as a grey PNG, white at its largest part: the pixels the
    score blames (genlab detect explain's parts)."""
    pixels = (heat_maps(parts)[0] * 255).round().to(torch.uint8)
    return _png_url(lambda path: save_png(pixels.numpy(), path))


def grid_url(model, images: torch.Tensor, columns: int) -> str:
    return _png_url(lambda path: save_image_grid(to_unit_range(images.float().cpu(), model.config.value_range), path, columns))


def _wav_url(data: bytes) -> str:
    return "data:audio/wav;base64," + base64.b64encode(data).decode("ascii")


def _png_url(write) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "image.png"
        write(path)
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
