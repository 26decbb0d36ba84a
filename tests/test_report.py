"""HTML run reports and the comparison of runs."""

import base64
import json
import re

import numpy as np
import pytest
from conftest import QUICK

import genlab


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    for seed in (0, 1):
        genlab.train("vae", "digits", epochs=4, run_dir=root / f"vae-{seed}", config={"seed": seed},
                     overrides=[*QUICK, "model.latent_dim=4"], progress=False)
        genlab.train("gan", "digits", epochs=4, run_dir=root / f"gan-{seed}", config={"seed": seed},
                     overrides=[*QUICK, "model.width=8"], progress=False)
    return root


def embedded_images(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)]


def test_report_is_self_contained_and_carries_the_evaluation(runs, tmp_path, cli):
    code, _, _ = cli("eval", runs / "vae-0", "--metrics", "likelihood", "reconstruction", "--k", "20", "--quiet")
    assert code == 0 and (runs / "vae-0" / "eval.json").is_file()
    stored = json.loads((runs / "vae-0" / "eval.json").read_text())
    output = tmp_path / "r.html"
    code, out, _ = cli("report", runs / "vae-0", "-o", output)
    assert code == 0 and "wrote" in out
    page = output.read_text()
    for heading in ("Summary", "Losses", "Samples across training", "Reconstructions", "Latent map", "Evaluation", "Configuration"):
        assert f"<h2>{heading}</h2>" in page
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # nothing is fetched from a network
    images = embedded_images(page)
    assert len(images) >= 5 and all(image.startswith(b"\x89PNG\r\n\x1a\n") for image in images)
    assert f"{stored['metrics']['likelihood']['nll']:.5g}" in page  # the number genlab eval stored, not a recomputation
    assert f"{genlab.load(runs / 'vae-0').num_parameters():,}" in page


def test_gan_report_has_both_players_and_no_reconstructions(runs, tmp_path, cli):
    code, _, _ = cli("report", runs / "gan-0", "-o", tmp_path / "g.html")
    page = (tmp_path / "g.html").read_text()
    assert code == 0 and "<h2>Reconstructions</h2>" not in page and "<h2>Latent map</h2>" not in page
    assert "No evaluation yet" in page
    metrics = (runs / "gan-0" / "metrics.jsonl").read_text()
    assert "discriminator/loss" in metrics and "generator/loss" in metrics  # what the curves section plots


def test_report_refuses_bad_arguments(runs, tmp_path, cli):
    code, _, err = cli("report", tmp_path, "-o", tmp_path / "x.html")
    assert code == 2 and "config.yaml" in err
    code, _, err = cli("report", runs / "vae-0", "-o", tmp_path / "x.pdf")
    assert code == 2 and ".html" in err and not (tmp_path / "x.pdf").exists()


def test_compare_groups_seeds_and_says_a_gan_cannot_reconstruct(runs, tmp_path, cli):
    fids = []
    for seed in (0, 1):  # measured by genlab eval itself; compare must reuse these, same protocol
        code, _, err = cli("eval", runs / f"gan-{seed}", "--metrics", "quality", "--samples", "300", "--bootstrap", "0",
                           "--quiet", "-o", tmp_path / f"gan-{seed}.json")
        assert code == 0, err
        fids.append(json.loads((tmp_path / f"gan-{seed}.json").read_text())["metrics"]["quality"]["fid"])
    output = tmp_path / "c.html"
    code, out, err = cli("compare", runs / "vae-0", runs / "vae-1", runs / "gan-0", runs / "gan-1", "-o", output,
                         "--samples", "300", "--quiet")
    assert code == 0, err
    comparison = json.loads(output.with_suffix(".json").read_text())
    recipes = {r["model"]: r for r in comparison["recipes"]}
    assert set(recipes) == {"vae", "gan"} and recipes["vae"]["seeds"] == [0, 1]
    assert recipes["gan"]["psnr"] is None and "none (no encoder)" in output.with_suffix(".md").read_text()
    assert recipes["vae"]["psnr"]["mean"] > 5
    assert recipes["gan"]["fid"]["mean"] == pytest.approx(sum(fids) / 2)
    assert recipes["gan"]["fid"]["max"] - recipes["gan"]["fid"]["min"] == pytest.approx(max(fids) - min(fids))
    assert recipes["gan"]["parameters"] == genlab.load(runs / "gan-0").num_parameters()
    page = output.read_text()
    assert len(embedded_images(page)) == 4 and "gan" in out  # two sample grids side by side, two plots
    assert "train img/s" in page and recipes["gan"]["train_images_per_s"]["mean"] > 0


def test_compare_refuses_mixed_data_and_single_runs(runs, tmp_path, cli):
    np.save(tmp_path / "other.npy", np.random.default_rng(0).random((300, 1, 8, 8)).astype(np.float32))
    genlab.train("vae", str(tmp_path / "other.npy"), epochs=1, run_dir=tmp_path / "v", progress=False,
                 overrides=[*QUICK, "model.latent_dim=4"])
    code, _, err = cli("compare", runs / "vae-0", tmp_path / "v", "-o", tmp_path / "c.html", "--samples", "50", "--quiet")
    assert code == 2 and "different data" in err and not (tmp_path / "c.html").exists()
    code, _, err = cli("compare", runs / "vae-0", "-o", tmp_path / "c.html")
    assert code == 2 and "at least two" in err
    code, _, err = cli("compare", runs / "vae-0", runs / "gan-0", "-o", tmp_path / "c.txt")
    assert code == 2 and ".html" in err and not (tmp_path / "c.txt").exists()


def test_detector_bar_chart_takes_any_column_name():
    from genlab.report.detector import _parts_chart

    png = _parts_chart(np.array([[1.0, 2.0, -0.5]]), ["a$^$b", "price ($) vs cost ($)", "plain"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")  # "$" is text, not the start of a formula
