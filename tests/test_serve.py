"""The local web explorer: its API, and the page driven in headless Chromium."""

import io
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import QUICK
from PIL import Image

import genlab

fastapi = pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from genlab.serve.app import MAX_UPLOAD_BYTES, create_app  # noqa: E402

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


def test_conditional_gan_samples_a_class_and_has_no_encoder(runs):
    client = TestClient(create_app(runs / "cgan"))
    info = client.get("/api/info").json()
    assert info["conditional"] and not info["has_encoder"] and not info["has_map"]
    assert client.post("/api/sample", json={"count": 4, "label": 3}).status_code == 200
    assert client.post("/api/sample", json={"count": 4, "label": 12}).status_code == 400
    refused = client.post("/api/analyze", content=png_bytes(np.zeros((8, 8), np.uint8)), headers={"content-type": "image/png"})
    assert refused.status_code == 400 and "no encoder" in refused.json()["error"]


def test_serve_refuses_a_vector_model_and_a_bad_port(tmp_path, cli, runs):
    from genlab.errors import GenlabError

    np.save(tmp_path / "v.npy", np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32))
    genlab.train("ae", str(tmp_path / "v.npy"), epochs=1, run_dir=tmp_path / "run", overrides=QUICK, progress=False)
    with pytest.raises(GenlabError, match="vectors"):  # refused before any server starts
        create_app(tmp_path / "run")
    code, _, err = cli("serve", runs / "vae", "--port", "70000")
    assert code == 2 and "--port" in err


# ---- the page in a real browser ----------------------------------------------------------


@pytest.fixture
def server(runs):
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(runs / "vae"), host="127.0.0.1", port=port, log_level="warning")
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
