"""Every measured figure that README.md and docs/ quote comes from committed benchmark JSON.

CLAIMS lists each quoted passage as a template and the values the JSON gives for it: a rerun
that moves a figure fails here until the page is updated. Every other figure with a unit of
measurement (dB, nats, %, x, times, seconds, minutes) on those pages must be a setting or a
limit listed in NOT_MEASURED, so a new number cannot appear without its source.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import REPO

RESULTS = REPO / "benchmarks" / "results"
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FIGURE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?\s?(?:dB|nats|%|x\b|×|times|seconds|minutes|hours|s\b)")


def result(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def pythae_ratios() -> list[float]:
    """genlab / pythae training throughput, per seed."""
    runs = {}
    for run in result("vs_pythae")["runs"]:
        runs.setdefault(run["seed"], {})[run["tool"]] = run["images_per_s"]
    return [seed["genlab"] / seed["pythae"] for seed in runs.values()]


def inpainting_margins() -> list[float]:
    r = result("app_inpainting")
    return [hole["margin_db"] for dataset in ("mnist", "fashion-mnist") for hole in r[dataset].values()]


def compression_margins(view: str, rival: str = "webp") -> list[float]:
    r = result("app_compression")
    return [r[dataset]["margins"][rival][view]["mean"] for dataset in ("mnist", "fashion-mnist")]


def compression_break_even() -> list[int]:
    r = result("app_compression")
    return [next(row["break_even_images"] for row in r[d]["break_even"]["webp"] if row["quality"] == 1)
            for d in ("mnist", "fashion-mnist")]


def tabular_anomaly(method: str) -> dict:
    """One method's summary over all 36 ADBench sets."""
    return result("anomaly_tables")["summary"]["all"]["methods"][method]


def image_anomaly() -> tuple:
    """The default detector's one-class mean AUROC on MNIST and Fashion-MNIST (mean over seeds), the seeds,
    PyOD's best row on each (the full table), and the slower dataset's seconds per fit."""
    default, full = result("app_anomaly_default"), result("app_anomaly")
    means = [default[d]["summary"]["genlab defaults"]["mean"] for d in ("mnist", "fashion-mnist")]
    pyod = [max(row["mean_auroc"] for name, row in full[d].items() if name.startswith("pyod")) for d in ("mnist", "fashion-mnist")]
    seconds = max(default[d]["summary"]["genlab defaults"]["seconds_per_fit"] for d in ("mnist", "fashion-mnist"))
    return (*means, len(default["protocol"]["seeds"]), *pyod, seconds)


def image_selection() -> tuple:
    """The chosen image setting's development mean AUROC, the best one with upright members alone, each
    dataset's figures of the two (Fashion-MNIST first), then the best with one upright and one restoring member and
    the best of the three-member design at 20 passes."""
    summary = result("anomaly_image_weight")["summary"]
    table = summary["table"]

    def best_of(candidate) -> dict:
        return table[max((key for key in table if candidate(key)), key=lambda key: table[key]["both"])]

    chosen, best = table[summary["chosen"]], best_of(lambda key: "restoring" not in key)
    pair = best_of(lambda key: key.startswith("2 members") and "restoring" in key)
    shorter = best_of(lambda key: key.startswith("3 members") and "20 epochs" in key)
    return (chosen["both"], best["both"], chosen["fashion-mnist"], best["fashion-mnist"], chosen["mnist"], best["mnist"],
            pair["both"], shorter["both"])


def speech_denoising(level: str) -> dict:
    """One noise level's row of the speech denoising benchmark."""
    return result("speech_denoising")["results"]["levels"][level]


def bf16_hardware(machine: dict) -> str:
    """How the recorded CPU computes bf16, in the words the docs use (KeyError: not recorded)."""
    features = set(machine["cpu_features"])
    if "amx_bf16" in features:
        return "with AMX"
    return "with AVX-512 BF16 but no AMX" if "avx512_bf16" in features else "without native bf16"


# (page, the passage as quoted with {} for each figure, the figures from the JSON)
CLAIMS = [
    ("README.md", "trains {:.1f} to {:.1f} times as many images per second with genlab ({:.2f} over all {} seeds",
     lambda: (min(pythae_ratios()), max(pythae_ratios()), result("vs_pythae")["throughput_ratio"], len(pythae_ratios()))),
    ("README.md", "at a better test ELBO ({:.1f} against {:.1f} nats",
     lambda: (result("vs_pythae")["test_elbo_genlab"], result("vs_pythae")["test_elbo_pythae"])),
    ("README.md", "{:.2f} nats for the MLP VAE and {:.2f} for IWAE",
     lambda: (result("nll_mnist")["rows"]["vae-mlp"]["nll"], result("nll_mnist")["rows"]["iwae-mlp"]["nll"])),
    ("README.md", "(the published VAE: {:.2f})", lambda: (result("nll_mnist")["published"]["VAE (Burda et al. 2015)"],)),
    ("README.md", "one training seed so far, ± {:.2f} and {:.2f} over test images",
     lambda: (result("nll_mnist")["rows"]["vae-mlp"]["nll_std_error"], result("nll_mnist")["rows"]["iwae-mlp"]["nll_std_error"])),
    ("README.md", "{:.1f} to {:.1f} dB closer to the truth", lambda: (min(inpainting_margins()), max(inpainting_margins()))),
    ("README.md", "{:+.1f} dB on Fashion-MNIST, and it reaches rates no image format does",
     lambda: (compression_margins("shared_at_smallest")[1],)),
    ("README.md", "with each image in its own file genlab loses, {:+.1f} dB and {:+.1f} dB against WebP",
     lambda: tuple(compression_margins("per_file_at_smallest"))),
    ("README.md", "AVIF stored the same way is ahead on average over the rates both reach (BD-PSNR {:.1f} and {:.1f} dB)",
     lambda: tuple(compression_margins("shared_bd_psnr", "avif"))),
    ("README.md", "at WebP's smallest file {:+.1f} dB on MNIST", lambda: (compression_margins("shared_at_smallest")[0],)),
    ("README.md", "its decoder ({:.2f} MB) pays for itself from {:,} and {:,} images",
     lambda: (result("app_compression")["mnist"]["decoder_bytes"]["ae-linear-300"] / 1e6, *compression_break_even())),
    ("docs/evaluation.md", "test images took {:.0f} minutes on 2 cores",
     lambda: (result("nll_mnist")["rows"]["vae-mlp"]["nll_seconds"] / 60,)),
    ("docs/benchmarks.md", "everything: {:.0f} minutes on 2 cores last time", lambda: (result("robustness")["wall_seconds"] / 60,)),
    ("docs/models.md", "{:.2f}% on MNIST and {:.1f}% on Fashion-MNIST in under {} minutes",
     lambda: (100 * result("classifier")["mnist"]["test_accuracy"], 100 * result("classifier")["fashion-mnist"]["test_accuracy"],
              int(max(result("classifier")[d]["train_seconds"] for d in ("mnist", "fashion-mnist")) // 60 + 1))),
    ("docs/training.md", "On a CPU {}, bf16 trained", lambda: (bf16_hardware(result("vs_pythae")["machine"]),)),
    ("docs/training.md", "bf16 trained the MNIST VAE at {:.2f}x the fp32 speed, with a test ELBO of {:.2f} against {:.2f} nats",
     lambda: (result("vs_pythae")["bf16"]["images_per_s"] / result("vs_pythae")["images_per_s_genlab"],
              result("vs_pythae")["bf16"]["test_elbo"], result("vs_pythae")["test_elbo_genlab"])),
    ("docs/applications.md", "the best mean AUROC, {:.3f} against IsolationForest's {:.3f}, and the best average rank "
                             "({:.2f} against {:.2f}; {} seeds)",
     lambda: (*(tabular_anomaly(m)["mean_auroc"] for m in ("genlab AnomalyDetector()", "sklearn IsolationForest")),
              *(tabular_anomaly(m)["average_rank"] for m in ("genlab AnomalyDetector()", "sklearn IsolationForest")),
              len(result("anomaly_tables")["protocol"]["seeds"]))),
    ("docs/applications.md", "one-class mean AUROC on the official test images of {:.4f} on MNIST and {:.4f} on "
                             "Fashion-MNIST ({} seeds), against PyOD's best {:.4f} and {:.4f} (one seed), at {:.0f} s per fit",
     image_anomaly),
    ("docs/applications.md", "(`benchmarks/anomaly_image_weight.py`: mean AUROC {:.4f} against {:.4f} with two upright "
                             "members, Fashion-MNIST {:.4f} against {:.4f}, MNIST {:.4f} against {:.4f}; one upright "
                             "and one restoring member gave {:.4f}, the three members trained for 20 passes {:.4f})",
     image_selection),
    ("docs/applications.md", "{:+.1f} dB on MNIST at WebP's smallest file when both store their images together",
     lambda: (compression_margins("shared_at_smallest")[0],)),
    ("docs/applications.md", "its decoder ({:.2f} MB) pays for itself only over tens of thousands of images "
                             "({:,} on MNIST against WebP's smallest files)",
     lambda: (result("app_compression")["mnist"]["decoder_bytes"]["ae-linear-300"] / 1e6, compression_break_even()[0])),
    ("docs/applications.md", "at 0 dB its SI-SDR is {:.2f} dB against the Wiener filter's {:.2f} dB",
     lambda: (speech_denoising("0.0")["genlab dae"]["si_sdr"]["mean"], speech_denoising("0.0")["Wiener filter"]["si_sdr"])),
    ("docs/applications.md", "reaches PESQ {:.2f} against the Wiener filter's {:.2f}",
     lambda: tuple(speech_denoising("0.0")[m]["pesq_nb"] for m in ("ceiling of the mel-band design", "Wiener filter"))),
    ("docs/applications.md", "the digit asked for {:.1f}% of the time by a classifier that recognises {:.1f}% of the real "
                             "test clips (the cvae's: {:.1f}%",
     lambda: (100 * result("speech_generation")["models"]["cgan"]["recognised"]["mean"],
              100 * result("speech_generation")["protocol"]["judge"]["test_accuracy"],
              100 * result("speech_generation")["models"]["cvae"]["recognised"]["mean"])),
]

# Figures on these pages that are settings, limits or facts of a format, not measurements.
NOT_MEASURED = [
    ("docs/benchmarks.md", "10% salt-and-pepper"),
    ("docs/benchmarks.md", "50% random"),
    ("docs/benchmarks.md", "2% unlabelled"),
    ("docs/data.md", "100 times its files' size"),
    ("docs/data.md", "100 times the memory"),
    ("docs/explorer.md", "4x the largest"),
    ("docs/applications.md", "worst-reconstructed 10%"),  # the ensemble's settings, not results
    ("docs/applications.md", "first 20% of training"),
    ("docs/benchmarks.md", "1% planted"),  # the speed benchmark's data
    ("docs/applications.md", "(default -5 to 20 dB)"),  # audio settings and limits, not results
    ("docs/cli.md", "0.3 s apart"),
    ("docs/data.md", "at most 600 s"),
    ("docs/data.md", "`1 x mels x frames`"),
    ("docs/data.md", "a floor of -100 dB"),
    ("docs/data.md", "holds 99% of the clips whole (at most 10 s)"),
    ("docs/data.md", "`1 x 64 x 128` spectrograms of 8,128 samples (1.016 s)"),
    ("docs/data.md", "# 0.2 s at 8 kHz"),
    ("docs/benchmarks.md", "white noise at 0, 5 and 10 dB SNR"),  # the speech benchmark's noise levels
]


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def page_text(name: str) -> str:
    return flat((REPO / name).read_text())


@pytest.mark.parametrize("page, template, values", CLAIMS, ids=[f"{page}:{template[:30]}" for page, template, _ in CLAIMS])
def test_quoted_figures_match_the_committed_json(page, template, values):
    quoted = template.format(*values())
    assert quoted in page_text(page), f"{page} should say «{quoted}» (from benchmarks/results)"


def test_every_figure_on_the_pages_is_backed_or_declared_not_measured():
    unbacked = []
    for path in PAGES:
        name = str(path.relative_to(REPO))
        text = page_text(name)
        covered = []
        for page, template, values in CLAIMS:
            if page == name:
                quoted = template.format(*values())
                covered += [(m.start(), m.end()) for m in re.finditer(re.escape(quoted), text)]
        for page, phrase in NOT_MEASURED:
            if page == name:
                assert phrase in text, f"{name} no longer says «{phrase}»: drop it from NOT_MEASURED"
                covered += [(m.start(), m.end()) for m in re.finditer(re.escape(phrase), text)]
        for match in FIGURE.finditer(text):
            if not any(start <= match.start() and match.end() <= end for start, end in covered):
                unbacked.append(f"{name}: «{text[max(0, match.start() - 40) : match.end() + 10]}»")
    assert not unbacked, "figures without committed JSON behind them:\n" + "\n".join(unbacked)


def test_results_md_is_what_the_committed_json_renders():
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import make_results
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    expected = make_results.render_all()
    assert (REPO / "benchmarks" / "RESULTS.md").read_text() == expected, \
        "benchmarks/RESULTS.md is out of date: run python benchmarks/make_results.py"
