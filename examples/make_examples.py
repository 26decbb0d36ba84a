"""Regenerate the committed examples: a VAE run report, a VAE-versus-GAN comparison, the explorer.

- vae-report.html: `genlab report` of an MLP VAE trained on MNIST (after `genlab eval`);
- vae-vs-gan.html / .md / .json: `genlab compare` of that VAE recipe and genlab's default
  GAN, `--seeds` seeds each (the VAE for `--epochs` epochs, the GAN for `--gan-minutes`
  minutes of wall time), 5,000 samples per run in the reference classifier's space;
- docs/explorer.png: `genlab serve` on the VAE in headless Chromium, after uploading a
  test image (its reconstruction and score shown) and clicking the latent map.
Runs are kept in examples/runs/ (ignored by git) and reused when present.

Run:  python examples/make_examples.py     (about 15 minutes on 2 cores; MNIST is read from
      ../shared/datasets when present, else downloaded)
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))

from _common import mirror_for, trained_run  # noqa: E402

from genlab.data import ensure_named_dataset, get_named_dataset  # noqa: E402


def screenshot(run: Path, output: Path) -> None:
    import uvicorn
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from genlab.data import load_dataset
    from genlab.serve.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(run), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    upload = output.with_name("upload.png")
    Image.fromarray(load_dataset("mnist").test.x[0, 0].numpy()).save(upload)
    flags = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=flags)
            page = browser.new_page(viewport={"width": 1200, "height": 1300})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("body[data-ready=true]", timeout=60_000)
            page.set_input_files("#upload", str(upload))
            page.wait_for_function("document.getElementById('score').textContent.includes('anomaly score')", timeout=60_000)
            box = page.locator("#map").bounding_box()
            page.mouse.click(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.55)
            page.wait_for_function("(document.getElementById('map-image').src || '').startsWith('data:')", timeout=60_000)
            page.screenshot(path=str(output), full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        upload.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10, help="VAE epochs (default 10)")
    parser.add_argument("--gan-minutes", type=float, default=2.0, help="GAN training minutes per seed (default 2)")
    parser.add_argument("--samples", type=int, default=5000)
    args = parser.parse_args()

    os.environ.setdefault("GENLAB_SHARED_DATASETS", str(HERE.parents[1] / "shared" / "datasets"))
    ensure_named_dataset(get_named_dataset(args.data), mirror=mirror_for(args.data))
    from genlab.eval.features import load_reference_classifier, train_reference_classifier

    if load_reference_classifier(args.data) is None:
        train_reference_classifier(args.data, progress=False)
    runs = HERE / "runs"
    vaes = [trained_run(runs / f"vae-{args.data}-{s}", "vae", args.data, {"train.epochs": args.epochs}, seed=s)
            for s in args.seeds]
    gans = [trained_run(runs / f"gan-{args.data}-{s}", "gan", args.data,
                        {"train.epochs": 10_000, "train.max_minutes": args.gan_minutes}, seed=s) for s in args.seeds]

    from genlab.eval.runner import evaluate
    from genlab.eval.stored import store_eval
    from genlab.report import render_report
    from genlab.report.compare import compare_runs

    results = evaluate(vaes[0], ["likelihood", "reconstruction", "quality", "diversity"], samples=args.samples, k=500,
                       progress=False)

    store_eval(vaes[0], results)
    started = time.perf_counter()
    report = render_report(vaes[0], HERE / "vae-report.html")
    print(f"report rendered in {time.perf_counter() - started:.1f} s", flush=True)
    compare_runs([*vaes, *gans], HERE / "vae-vs-gan.html", samples=args.samples, progress=False)
    docs = HERE.parent / "docs"
    docs.mkdir(exist_ok=True)
    screenshot(vaes[0], docs / "explorer.png")
    for path in [HERE / n for n in ("vae-report.html", "vae-vs-gan.html", "vae-vs-gan.md", "vae-vs-gan.json")] + [docs / "explorer.png"]:
        print(f"{path}: {path.stat().st_size / 1024:.0f} KiB")
    assert report.stat().st_size < 2 * 1024 * 1024


if __name__ == "__main__":
    main()
