"""The local web explorer: its API, and the page driven in headless Chromium."""

import io
import json
import os
import shutil
import socket
import statistics
import struct
import threading
import time
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from conftest import QUICK
from PIL import Image

import genlab

fastapi = pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from genlab.serve.app import MAX_JSON_BYTES, MAX_UPLOAD_BYTES, create_app, serve  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    genlab.train("vae", "digits", epochs=15, run_dir=root / "vae", overrides=[*QUICK, "model.latent_dim=4"], progress=False)
    genlab.train("cgan", "digits", epochs=1, run_dir=root / "cgan", overrides=[*QUICK, "model.width=8"], progress=False)
    return root


@pytest.fixture(scope="module")
def client(runs):
    return TestClient(create_app(runs / "vae"))


@pytest.fixture(scope="module")
def cgan_client(runs):
    return TestClient(create_app(runs / "cgan"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_data_url(url: str) -> Image.Image:
    import base64

    assert url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_api_samples_maps_and_decodes(client):
    info = client.get("/api/info").json()
    assert info["has_encoder"] and info["has_map"] and info["latent_dim"] == 4
    grid = decode_data_url(client.post("/api/sample", json={"count": 9, "seed": 3}).json()["image"])
    assert grid.size[0] > 3 * 8
    mapped = client.get("/api/map").json()
    assert len(mapped["points"]) == len(mapped["labels"]) == info["test_images"]
    point = client.post("/api/map/decode", json={"x": 0.0, "y": 0.0}).json()
    assert len(point["code"]) == 4 and decode_data_url(point["image"]).size == (8, 8)
    example = client.get("/api/example/5").json()
    again = client.post("/api/decode", json={"code": example["code"]}).json()
    assert decode_data_url(again["image"]).size == (8, 8)


def test_api_scores_an_unusual_image_above_a_typical_one(client, runs):
    data = genlab.data.load_dataset("digits")
    typical = (data.test.x[0, 0].numpy() * 255 / 16).astype(np.uint8)
    noise = (np.random.default_rng(0).random((8, 8)) * 255).astype(np.uint8)
    scores = []
    for picture in (typical, noise):
        response = client.post("/api/analyze", content=png_bytes(picture), headers={"content-type": "image/png"})
        assert response.status_code == 200
        body = response.json()
        assert decode_data_url(body["reconstruction"]).size == (8, 8) and decode_data_url(body["denoised"]).size == (8, 8)
        scores.append(body["score"])
    assert scores[1] > scores[0]


def test_analyze_shows_which_pixels_make_the_score(client):
    data = genlab.data.load_dataset("digits")
    picture = (data.test.x[0, 0].numpy() * 255 / 16).astype(np.uint8)
    picture[0, 0] = 255  # a bright corner, where digits have none
    body = client.post("/api/analyze", content=png_bytes(picture), headers={"content-type": "image/png"}).json()
    heat = np.asarray(decode_data_url(body["explanation"]))
    assert heat.shape[:2] == (8, 8)
    assert np.unravel_index(np.argmax(heat.reshape(8, 8, -1)[..., 0]), (8, 8)) == (0, 0)


def test_api_refuses_what_it_must_not_take(client):
    assert client.post("/api/analyze", content=b"%PDF-1.4", headers={"content-type": "application/pdf"}).status_code == 415
    too_big = client.post("/api/analyze", content=b"\0" * (MAX_UPLOAD_BYTES + 1), headers={"content-type": "image/png"})
    assert too_big.status_code == 413
    pickled = client.post("/api/analyze", content=b"\x80\x04\x95", headers={"content-type": "image/png"})
    assert pickled.status_code == 400 and "not a readable" in pickled.json()["error"]
    gif = io.BytesIO()
    Image.new("L", (8, 8)).save(gif, format="GIF")
    assert "not accepted" in client.post("/api/analyze", content=gif.getvalue(), headers={"content-type": "image/png"}).json()["error"]
    assert client.post("/api/sample", json={"count": 10_000}).status_code == 422
    assert client.post("/api/decode", json={"code": [0.0]}).status_code == 400


def test_conditional_gan_samples_a_class_and_has_no_encoder(cgan_client):
    client = cgan_client
    info = client.get("/api/info").json()
    assert info["conditional"] and not info["has_encoder"] and not info["has_map"]
    assert client.post("/api/sample", json={"count": 4, "label": 3}).status_code == 200
    assert client.post("/api/sample", json={"count": 4, "label": 12}).status_code == 400
    refused = client.post("/api/analyze", content=png_bytes(np.zeros((8, 8), np.uint8)), headers={"content-type": "image/png"})
    assert refused.status_code == 400 and "no encoder" in refused.json()["error"]


def test_a_detector_run_is_served_for_its_detector_and_scores_as_the_api_does(tmp_path):
    data = genlab.data.load_dataset("digits")
    zeros = data.train.x[data.train.y == 0].numpy()  # pixels in [0, 1]
    detector = genlab.apps.AnomalyDetector(epochs=20, random_state=0).fit(zeros, run_dir=tmp_path / "det")  # saved
    client = TestClient(create_app(tmp_path / "det"))  # an ae-ensemble: it does not generate, but it is served
    info = client.get("/api/info").json()
    assert info["detector"] == "saved" and info["has_analysis"] and not info["can_sample"] and not info["has_map"]
    assert_refused(client.post("/api/sample", json={"count": 4, "seed": 0}), 400, "does not generate")
    typical = (data.test.x[data.test.y == 0][0, 0].numpy() * 255).round().astype(np.uint8)
    corner = typical.copy()
    corner[7, 7] = 255  # a bright corner, where zeros have none
    for picture in (typical, corner):
        body = client.post("/api/analyze", **upload(png_bytes(picture))).json()
        expected = float(detector.anomaly_scores((picture / 255.0).astype(np.float32)[None])[0])
        assert body["score"] == pytest.approx(expected, abs=1e-3) and body["threshold"] == round(detector.threshold_, 4)
        assert body["denoised"] is None and body["reference"] == "training images"
    assert not client.post("/api/analyze", **upload(png_bytes(typical))).json()["anomaly"] and body["anomaly"]
    heat = np.asarray(decode_data_url(body["explanation"])).reshape(8, 8, -1)[..., 0]
    assert np.unravel_index(np.argmax(heat), (8, 8)) == (7, 7)  # the map blames the planted pixel


def test_a_damaged_detector_is_set_aside_for_a_run_that_generates(runs, tmp_path):
    run = tmp_path / "vae"
    shutil.copytree(runs / "vae", run)
    (run / "detector.json").write_text('{"score": 3')
    client = TestClient(create_app(run))
    info = client.get("/api/info").json()
    assert "detector.json is damaged" in info["detector_problem"] and info["detector"] == "calibrated"
    assert client.post("/api/sample", json={"count": 4, "seed": 0}).status_code == 200


def test_serve_refuses_a_vector_model_and_a_bad_port(tmp_path, cli, runs):
    from genlab.errors import GenlabError

    np.save(tmp_path / "v.npy", np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32))
    genlab.train("ae", str(tmp_path / "v.npy"), epochs=1, run_dir=tmp_path / "run", overrides=QUICK, progress=False)
    with pytest.raises(GenlabError, match="vectors"):  # refused before any server starts
        create_app(tmp_path / "run")
    with pytest.raises(SystemExit) as exit:  # refused while the flags are parsed: argparse's one line, exit 2
        cli("serve", runs / "vae", "--port", "70000")
    assert exit.value.code == 2


# ---- hostile requests: every refusal is a one-line 4xx, never a 500 -----------------------


def assert_refused(response, status=None, words=""):
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    if status is not None:
        assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and body["error"] and "\n" not in body["error"], body
    assert words in body["error"]


def raw_json(text: str) -> dict:
    return {"content": text.encode(), "headers": {"content-type": "application/json"}}


def upload(data: bytes, kind: str = "image/png") -> dict:
    return {"content": data, "headers": {"content-type": kind}}


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but carries almost none of them."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="GIF")
    return buffer.getvalue()


# (id, model, method, path, request or a function making it, status or None for any 4xx, words in the error)
HOSTILE = [
    ("label-1e30-unconditional", "vae", "post", "/api/sample", {"json": {"label": 10**30}}, 400, "not conditional"),
    ("label-1e30", "cgan", "post", "/api/sample", {"json": {"label": 10**30}}, 400, "label 1e30 is out of range: this model has classes 0-9"),
    ("label-negative", "cgan", "post", "/api/sample", {"json": {"label": -1}}, 400, "classes 0-9"),
    ("label-bool", "cgan", "post", "/api/sample", {"json": {"label": True}}, 422, "label"),
    ("label-string", "cgan", "post", "/api/sample", {"json": {"label": "3"}}, 422, "label"),
    ("label-fraction", "cgan", "post", "/api/sample", {"json": {"label": 3.5}}, 422, "label"),
    ("count-zero", "vae", "post", "/api/sample", {"json": {"count": 0}}, 422, "count"),
    ("count-1e30", "vae", "post", "/api/sample", {"json": {"count": 10**30}}, 422, "count 1e30"),
    ("count-string", "vae", "post", "/api/sample", {"json": {"count": "16"}}, 422, "count"),
    ("count-nested-list", "vae", "post", "/api/sample", {"json": {"count": [[16]]}}, 422, "count"),
    ("count-null", "vae", "post", "/api/sample", {"json": {"count": None}}, 422, "count"),
    ("seed-negative", "vae", "post", "/api/sample", {"json": {"seed": -1}}, 422, "seed"),
    ("seed-past-63-bits", "vae", "post", "/api/sample", {"json": {"seed": 2**63}}, 422, "seed"),
    ("seed-float", "vae", "post", "/api/sample", {"json": {"seed": 1e30}}, 422, "seed"),
    ("misspelt-field", "vae", "post", "/api/sample", {"json": {"lable": 3}}, 422, "spelling"),
    ("body-a-list", "vae", "post", "/api/sample", {"json": [1, 2]}, 422, "JSON object"),
    ("body-not-json", "vae", "post", "/api/sample", raw_json("count=3"), 422, "JSON"),
    ("body-nan-literal", "vae", "post", "/api/sample", raw_json('{"count": NaN}'), 422, "count"),
    ("body-deep-nesting", "vae", "post", "/api/sample", raw_json("[" * 100_000), None, ""),
    ("body-5000-digit-int", "vae", "post", "/api/sample", raw_json('{"seed": ' + "9" * 5000 + "}"), None, ""),
    ("body-over-limit", "vae", "post", "/api/decode", raw_json(" " * (MAX_JSON_BYTES + 1)), 413, "larger than"),
    ("map-x-1e308", "vae", "post", "/api/map/decode", {"json": {"x": 1e308, "y": 0.0}}, 400, "outside the map"),
    ("map-y-far", "vae", "post", "/api/map/decode", {"json": {"x": 0.0, "y": -1e6}}, 400, "pick y between"),
    ("map-x-nan-literal", "vae", "post", "/api/map/decode", raw_json('{"x": NaN, "y": 0}'), 422, "finite"),
    ("map-x-infinity-literal", "vae", "post", "/api/map/decode", raw_json('{"x": -Infinity, "y": 0}'), 422, "finite"),
    ("map-x-string", "vae", "post", "/api/map/decode", {"json": {"x": "0", "y": 0}}, 422, "x"),
    ("map-x-1e400-int", "vae", "post", "/api/map/decode", {"json": {"x": 10**400, "y": 0}}, 422, "x"),
    ("map-y-missing", "vae", "post", "/api/map/decode", {"json": {"x": 0}}, 422, "y is missing"),
    ("map-without-encoder", "cgan", "post", "/api/map/decode", {"json": {"x": 0, "y": 0}}, 400, "no latent map"),
    ("map-get-without-encoder", "cgan", "get", "/api/map", {}, 400, "no latent map"),
    ("code-nan-literal", "vae", "post", "/api/decode", raw_json('{"code": [NaN, 0, 0, 0]}'), 422, "finite"),
    ("code-1e308", "vae", "post", "/api/decode", {"json": {"code": [1e308, 0, 0, 0]}}, 400, "too large"),
    ("code-1e30", "vae", "post", "/api/decode", {"json": {"code": [0, 0, 0, -1e30]}}, 400, "too large"),
    ("code-short", "vae", "post", "/api/decode", {"json": {"code": [0.0]}}, 400, "send exactly 4"),
    ("code-empty", "vae", "post", "/api/decode", {"json": {"code": []}}, 422, "code"),
    ("code-5000-long", "vae", "post", "/api/decode", {"json": {"code": [0.0] * 5000}}, 422, "code"),
    ("code-nested", "vae", "post", "/api/decode", {"json": {"code": [[0.0], 0, 0, 0]}}, 422, "code[0]"),
    ("code-strings", "vae", "post", "/api/decode", {"json": {"code": ["0", "0", "0", "0"]}}, 422, "code[0]"),
    ("code-null", "vae", "post", "/api/decode", {"json": {"code": None}}, 422, "code"),
    ("code-label-unconditional", "vae", "post", "/api/decode", {"json": {"code": [0] * 4, "label": 3}}, 400, "not conditional"),
    ("code-label-99", "cgan", "post", "/api/decode", {"json": {"code": [0.0], "label": 99}}, 400, "classes 0-9"),
    ("example-negative", "vae", "get", "/api/example/-1", {}, 400, "out of range"),
    ("example-1e30", "vae", "get", "/api/example/" + "9" * 30, {}, 400, "9e29"),
    ("example-5000-digits", "vae", "get", "/api/example/" + "9" * 5000, {}, None, ""),
    ("example-text", "vae", "get", "/api/example/abc", {}, 422, "index"),
    ("example-fraction", "vae", "get", "/api/example/1.5", {}, 422, "index"),
    ("interpolate-first-1e30", "vae", "post", "/api/interpolate", {"json": {"first": 10**30, "second": 0}}, 400, "first 1e30"),
    ("interpolate-second-negative", "vae", "post", "/api/interpolate", {"json": {"first": 0, "second": -1}}, 400, "second"),
    ("interpolate-steps-1", "vae", "post", "/api/interpolate", {"json": {"first": 0, "second": 1, "steps": 1}}, 422, "steps"),
    ("interpolate-steps-1e30", "vae", "post", "/api/interpolate", {"json": {"first": 0, "second": 1, "steps": 10**30}}, 422, "steps"),
    ("interpolate-steps-string", "vae", "post", "/api/interpolate", {"json": {"first": 0, "second": 1, "steps": "9"}}, 422, "steps"),
    ("interpolate-without-encoder", "cgan", "post", "/api/interpolate", {"json": {"first": 0, "second": 1}}, 400, "no latent map"),
    ("upload-empty", "vae", "post", "/api/analyze", upload(b""), 400, "not a readable"),
    ("upload-pdf", "vae", "post", "/api/analyze", upload(b"%PDF-1.4", "application/pdf"), 415, "image/png"),
    ("upload-no-type", "vae", "post", "/api/analyze", {"content": b"\x89PNG"}, 415, "image/png"),
    ("upload-gif", "vae", "post", "/api/analyze", lambda: upload(gif_bytes()), 400, "not accepted"),
    ("upload-truncated", "vae", "post", "/api/analyze", lambda: upload(png_bytes(np.eye(64, dtype=np.uint8))[:60]), 400, "readable"),
    ("upload-bomb-header", "vae", "post", "/api/analyze", lambda: upload(png_header(20_000, 20_000)), 400, "pixels"),
    ("upload-4100x4100", "vae", "post", "/api/analyze", lambda: upload(png_bytes(np.zeros((4100, 4100), np.uint8))), 400, "4100x4100"),
    ("upload-over-2mb", "vae", "post", "/api/analyze", upload(b"\0" * (MAX_UPLOAD_BYTES + 1)), 413, "2 MB"),
    ("upload-bad-length", "vae", "post", "/api/analyze",
     {"content": b"xx", "headers": {"content-type": "image/png", "content-length": "abc"}}, 400, "Content-Length"),
    ("upload-without-encoder", "cgan", "post", "/api/analyze", lambda: upload(png_bytes(np.zeros((8, 8), np.uint8))), 400, "no encoder"),
    ("unknown-path", "vae", "get", "/api/nothing", {}, 404, "/api/nothing"),
    ("wrong-method", "vae", "post", "/api/info", {}, 405, "POST"),
]


@pytest.mark.parametrize("model, method, path, request_, status, words", [case[1:] for case in HOSTILE],
                         ids=[case[0] for case in HOSTILE])
def test_hostile_requests_get_a_one_line_4xx(client, cgan_client, model, method, path, request_, status, words):
    chosen = client if model == "vae" else cgan_client
    response = getattr(chosen, method)(path, **(request_() if callable(request_) else request_))
    assert_refused(response, status, words)


def test_pillows_decompression_bomb_warning_is_a_4xx_too(client):
    # 10000x10000 is past Pillow's warning size; where warnings are errors, open() raises it
    bomb = upload(png_header(10_000, 10_000))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        assert_refused(client.post("/api/analyze", **bomb), 400, "pixels")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        assert_refused(client.post("/api/analyze", **bomb), 400, "pixels")


def test_values_at_the_limits_are_accepted(client, cgan_client):
    assert client.post("/api/sample", json={"count": 64, "seed": 2**63 - 1}).status_code == 200
    assert cgan_client.post("/api/sample", json={"count": 1, "label": 9}).status_code == 200
    mapped = client.get("/api/map").json()["points"]
    far = max(mapped, key=lambda point: abs(point[0]))  # the page lets one click a little past the outermost point
    assert client.post("/api/map/decode", json={"x": far[0] * 1.1, "y": far[1]}).status_code == 200
    assert client.post("/api/decode", json={"code": [1, 0, 0, 0]}).status_code == 200  # ints are numbers
    assert client.post("/api/interpolate", json={"first": 0, "second": 358, "steps": 32}).status_code == 200


def test_fuzzed_json_bodies_never_fail_the_server(client, cgan_client):
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers() | st.integers(-(10**40), 10**40) | st.floats(allow_subnormal=False) | st.text(max_size=6)
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                          max_leaves=8)
    numbers = st.floats(allow_subnormal=False) | st.integers(-(10**30), 10**30) | st.floats(-5, 5, allow_subnormal=False)
    fields = {"/api/sample": {"count": st.integers(-2, 70) | values, "seed": st.integers() | values, "label": st.integers(-2, 12) | values},
              "/api/map/decode": {"x": numbers | values, "y": numbers | values},
              "/api/decode": {"code": st.lists(numbers, max_size=6) | values, "label": st.integers(-2, 12) | values},
              "/api/interpolate": {"first": st.integers(-2, 400) | values, "second": st.integers() | values,
                                   "steps": st.integers(0, 40) | values}}
    bodies = st.sampled_from(sorted(fields)).flatmap(
        lambda path: st.tuples(st.just(path), st.fixed_dictionaries({}, optional=fields[path]) | values))

    @settings(max_examples=60, deadline=None, database=None)
    @given(bodies, st.booleans())
    def check(request, conditional):
        path, body = request
        response = (cgan_client if conditional else client).post(path, **raw_json(json.dumps(body)))
        if response.status_code != 200:
            assert_refused(response)

    check()


def test_fuzzed_uploads_and_indices_never_fail_the_server(client):
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    picture = (np.random.default_rng(1).random((24, 24)) * 255).astype(np.uint8)
    jpeg = io.BytesIO()
    Image.fromarray(picture).convert("RGB").save(jpeg, format="JPEG")
    originals = [png_bytes(picture), jpeg.getvalue()]

    @settings(max_examples=50, deadline=None, database=None)
    @given(st.sampled_from(originals), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
           st.integers(0, 10**6), st.text(max_size=12))
    def check(original, changes, cut, index):
        damaged = bytearray(original)
        for position, value in changes:
            damaged[position % len(damaged)] = value
        damaged = bytes(damaged[: len(damaged) - cut % 16])
        response = client.post("/api/analyze", **upload(damaged))
        if response.status_code != 200:
            assert_refused(response)
        response = client.get(f"/api/example/{quote(index, safe='')}")
        if response.status_code != 200:
            assert_refused(response)

    check()


# ---- load: model work queues on one worker, the page stays responsive -------------------


def test_a_full_queue_answers_503_and_cheap_requests_still_pass(runs):
    app = create_app(runs / "vae", queue_limit=2)
    explorer, worker = app.state.explorer, app.state.worker
    release = threading.Event()
    sample = explorer.sample

    def held_sample(*args):
        release.wait(20)
        return sample(*args)

    explorer.sample = held_sample
    with TestClient(app) as client, ThreadPoolExecutor(2) as pool:
        waiting = [pool.submit(client.post, "/api/sample", json={"count": 1}) for _ in range(2)]
        deadline = time.time() + 20
        while worker.admitted < 2 and time.time() < deadline:
            time.sleep(0.01)
        try:
            busy = client.post("/api/sample", json={"count": 1})
            assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
            assert "busy" in busy.json()["error"] and "retry" in busy.json()["error"]
            assert client.get("/api/info").status_code == 200
        finally:
            release.set()
        assert [future.result().status_code for future in waiting] == [200, 200]
    assert worker.admitted == 0


def test_concurrent_requests_with_one_seed_give_one_image(client):
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: client.post("/api/sample", json={"count": 9, "seed": 11}), range(4)))
    assert len({response.json()["image"] for response in responses}) == 1


def test_info_stays_fast_while_large_uploads_are_analysed(server):
    import httpx

    side = 4096
    ramp = (np.add.outer(np.arange(side), 3 * np.arange(side)) % 251).astype(np.uint8)
    # 4096x4096 RGBA in about 330 KB, as a large drawing would come: decoding, compositing
    # and resizing it takes about half a second
    large = png_bytes(np.stack([ramp, ramp.T, ramp[:, ::-1], ramp], axis=-1))

    def analyse(_):
        with httpx.Client(base_url=server, timeout=60) as session:
            return session.post("api/analyze", content=large, headers={"content-type": "image/png"})

    # /api/info is asked every 50 ms whether or not the last answer came (timed from the asking),
    # so a blocked server shows in every answer it holds back, not only in the first
    asked = []
    with httpx.Client(base_url=server, timeout=30, limits=httpx.Limits(max_connections=32)) as session, \
            ThreadPoolExecutor(6) as senders, ThreadPoolExecutor(32) as askers:
        session.get("api/info")

        def ask(since: float):
            return session.get("api/info").status_code, time.perf_counter() - since

        uploads = [senders.submit(analyse, i) for i in range(6)]
        while not all(job.done() for job in uploads):
            asked.append(askers.submit(ask, time.perf_counter()))
            time.sleep(0.05)
        answers = [job.result() for job in asked]
    assert [job.result().status_code for job in uploads] == [200] * 6
    latencies = [seconds for _, seconds in answers]
    assert {status for status, _ in answers} == {200} and len(latencies) >= 10, answers  # asked while the uploads ran
    assert statistics.median(latencies) < 0.1 and max(latencies) < 2.0, sorted(latencies)


def test_a_busy_port_is_one_line_and_exit_2(runs, cli, capsys, monkeypatch):
    import httpx
    import uvicorn

    started = []

    class RecordedServer(uvicorn.Server):
        def __init__(self, config):
            super().__init__(config)
            started.append(self)

    monkeypatch.setattr(uvicorn, "Server", RecordedServer)
    port = free_port()
    thread = threading.Thread(target=serve, args=(runs / "vae",), kwargs={"port": port}, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 30
        while not (started and started[0].started) and time.time() < deadline:
            time.sleep(0.05)
        assert httpx.get(f"http://127.0.0.1:{port}/api/info", timeout=10).json()["model"] == "vae"
        capsys.readouterr()  # the first server's own start-up line
        code, _, err = cli("serve", runs / "vae", "--port", port)
        assert code == 2 and err.count("\n") == 1, err
        assert f"port {port} on 127.0.0.1 is in use; pass --port N or stop the other server" in err
    finally:
        if started:
            started[0].should_exit = True
        thread.join(timeout=10)
    assert not thread.is_alive()


# ---- the page in a real browser ----------------------------------------------------------


@pytest.fixture
def server(runs):
    yield from serving(runs / "vae")


@pytest.fixture(scope="module")
def audio_server(tmp_path_factory):
    """The explorer of a small VAE of audio: a folder of high and low tones."""
    soundfile = pytest.importorskip("soundfile", reason="audio needs the soundfile package (pip install soundfile)")
    root = tmp_path_factory.mktemp("audio-serve")
    (root / "clips").mkdir()
    t = np.arange(1600) / 8000
    for take in range(8):
        for name, hz in (("low", 300.0), ("high", 2400.0)):
            soundfile.write(root / "clips" / f"{name}_{take}.wav", 0.5 * np.sin(2 * np.pi * hz * (1 + 0.01 * take) * t), 8000)
    genlab.train("vae", str(root / "clips"), epochs=3, run_dir=root / "run", progress=False,
                 overrides=[*QUICK, "data.audio={n_fft: 128, hop: 32, mels: 32}"])
    yield from serving(root / "run")


def serving(run):
    """The explorer of `run` served on a free local port, for the length of a fixture."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(create_app(run), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not instance.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    instance.should_exit = True
    thread.join(timeout=10)


def browser_or_skip():
    """Playwright's API and the chromium binary; CI must have both (make test installs them)."""
    try:
        import playwright.sync_api as playwright_api
    except ImportError:
        playwright_api = None
    missing = "playwright" if playwright_api is None else "chromium" if CHROMIUM is None else None
    if missing and os.environ.get("CI"):
        pytest.fail(f"{missing} is missing in CI; make test installs it")
    if missing:
        pytest.skip(f"{missing} is not installed (make test installs Debian's chromium and playwright)")
    return playwright_api


def test_explorer_in_headless_chromium(server, tmp_path):
    playwright_api = browser_or_skip()
    artefacts = Path(os.environ.get("GENLAB_TEST_ARTIFACTS", tmp_path))
    artefacts.mkdir(parents=True, exist_ok=True)
    upload = tmp_path / "seven.png"
    data = genlab.data.load_dataset("digits")
    Image.fromarray((data.test.x[7, 0].numpy() * 255 / 16).astype(np.uint8)).resize((64, 64)).save(upload)
    flags = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            page.goto(server)
            page.wait_for_selector("body[data-ready=true]", timeout=30_000)
            assert page.get_attribute("#samples", "src").startswith("data:image/png")
            # upload an image: its reconstruction and score appear
            page.set_input_files("#upload", str(upload))
            page.wait_for_function("document.getElementById('score').textContent.includes('anomaly score')", timeout=30_000)
            assert page.get_attribute("#reconstruction-image", "src").startswith("data:image/png")
            first_score = page.text_content("#score")
            # draw a stroke on the pad and analyse it
            box = page.locator("#pad").bounding_box()
            page.mouse.move(box["x"] + 60, box["y"] + 40)
            page.mouse.down()
            for step in range(12):
                page.mouse.move(box["x"] + 60 + 8 * step, box["y"] + 40 + 12 * step)
            page.mouse.up()
            page.click("#analyze-drawing")
            page.wait_for_function(f"document.getElementById('score').textContent !== {first_score!r}", timeout=30_000)
            # click the latent map: the decoded point appears
            map_box = page.locator("#map").bounding_box()
            page.mouse.click(map_box["x"] + map_box["width"] * 0.4, map_box["y"] + map_box["height"] * 0.6)
            page.wait_for_function("(document.getElementById('map-image').src || '').startsWith('data:image/png')",
                                   timeout=30_000)
            assert "decoded at" in page.text_content("#map-caption")
            assert page.text_content("#error") == ""
            page.screenshot(path=str(artefacts / "explorer.png"), full_page=True)
        finally:
            browser.close()
    assert (artefacts / "explorer.png").stat().st_size > 10_000


@pytest.fixture(autouse=True)
def _ieee_floats(ieee_floats):
    yield


def test_the_explorer_plays_a_generated_clip_in_headless_chromium(audio_server):
    playwright_api = browser_or_skip()
    flags = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
             "--autoplay-policy=no-user-gesture-required"]
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        try:
            page = browser.new_page()
            page.goto(audio_server)
            page.wait_for_selector("body[data-ready=true]", timeout=30_000)
            page.wait_for_selector("#sample-audio audio", timeout=30_000)
            assert page.locator("#sample-audio audio").count() == 8
            played = page.evaluate("""async () => {
                const player = document.querySelector('#sample-audio audio');
                await player.play();
                await new Promise(done => setTimeout(done, 500));
                return {duration: player.duration, time: player.currentTime, error: player.error && player.error.code,
                        source: player.src.slice(0, 22)};
            }""")
            assert played["source"] == "data:audio/wav;base64," and played["error"] is None
            assert played["duration"] > 0.2 and played["time"] > 0.05  # it decoded and it plays
            assert page.text_content("#error") == ""
        finally:
            browser.close()
