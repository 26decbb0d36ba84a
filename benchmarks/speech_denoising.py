"""Speech denoising: genlab's denoising autoencoder of spectrograms against the classical filters.

Protocol
- Data: the Free Spoken Digit Dataset (fsdd): 2,700 training clips (genlab holds out 10% for
  validation), 300 test clips (takes 0-4), 8 kHz, each scored at its own length.
- Noise: white Gaussian noise added to the waveform at 0, 5 and 10 dB SNR (the clip's energy over
  the noise's), drawn per clip from a seed fixed per level; the same noisy clips for every method.
- genlab: one `dae` (`model.noise=white`, SNRs drawn from `model.snr_db` -5..20 dB while training,
  convolutional, `--epochs`, seeds `--seeds`), trained on the training split only, then
  `genlab denoise` as a user runs it (genlab.apps.denoising.denoise_clip: the model's cleaned
  log-mel spectrogram sets how far each mel band of the noisy clip is turned down; noisy phase).
- Classical methods, on the same short-time Fourier transform (256-sample Hann window, hop 64),
  each given the true noise power (white noise: flat; noisereduce: a separate noise recording of
  the same level), the most a classical method could know:
  spectral subtraction (power subtraction with over-subtraction alpha and a spectral floor beta,
  Berouti et al. 1979), a Wiener filter with the decision-directed a-priori SNR (Ephraim and
  Malah 1984: smoothing a, gain floor), and noisereduce's stationary spectral gating (threshold in
  standard deviations, proportion removed). Each one's parameters are tuned per noise level for
  SI-SDR on `--tune` validation clips with their own noise; the test clips only score.
- Scores: SI-SDR (dB, mean over the test clips); PESQ narrow-band (the `pesq` package, ITU-T
  P.862 at 8 kHz; mean over the clips every method could be scored on, the same clips for all,
  with the count of clips where PESQ found no utterance); STOI (`pystoi`) of each speaker's clips
  one after another (one short clip has too few voiced frames for it), mean over the 6 speakers.
  The noisy input is the floor.
- Ceiling: `genlab denoise`'s way of turning mel bands down, given the clean clip's own
  spectrogram in the model's place: what a perfect model of this design could reach.
- Goal: genlab at least 3 dB SI-SDR above the best classical method at 0 dB, and ahead on PESQ at
  every level.

Run:  python benchmarks/speech_denoising.py [--epochs 60] [--seeds 0 1 2] [--runs DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from itertools import product
from pathlib import Path

import numpy as np
import torch
from _common import machine, mean_sd, mirror_for, settings_tag, train_minutes, trained_run, write_result

import genlab
from genlab.apps.denoising import denoise_clip, pieces, turned_down
from genlab.data import ensure_named_dataset, get_named_dataset
from genlab.data.audio import read_audio
from genlab.data.spectrogram import Spectrogram

SELECTION = ("the classical methods' parameters tuned per noise level on validation clips (recorded); genlab's "
             "denoising autoencoder at fixed settings; the test clips only score")
LEVELS_DB = (0.0, 5.0, 10.0)
# what genlab's way of denoising could reach with a perfect model: the clean clip's own spectrogram in its place
CEILING = "ceiling of the mel-band design"
RATE, N_FFT, HOP = 8000, 256, 64
DAE = {"model.noise": "white", "model.snr_db": [-5.0, 20.0], "model.arch": "conv", "model.latent_dim": 256,
       "train.scheduler": "cosine"}
GRIDS = {
    "spectral subtraction": list(product([1.0, 2.0, 3.0, 4.0, 6.0, 8.0], [0.0001, 0.001, 0.01, 0.03, 0.1])),  # alpha, beta
    "Wiener filter": list(product([0.8, 0.9, 0.95, 0.98], [0.001, 0.003, 0.01, 0.05, 0.1, 0.2])),  # smoothing a, floor
    "noisereduce": list(product([0.5, 1.0, 1.5, 2.0], [0.5, 0.75, 1.0])),  # threshold (sd), proportion removed
}


# ---- the noisy clips -------------------------------------------------------------------------------


def noisy_copy(clean: list[np.ndarray], snr_db: float, seed: int) -> tuple[list[np.ndarray], list[float]]:
    """Each clip with white noise at `snr_db`, and the noise's standard deviation for each."""
    rng = np.random.default_rng(seed)
    noisy, sigmas = [], []
    for wave in clean:
        sigma = float(np.sqrt(np.mean(wave.astype(np.float64) ** 2) / 10 ** (snr_db / 10)))
        noisy.append((wave + sigma * rng.standard_normal(len(wave))).astype(np.float32))
        sigmas.append(sigma)
    return noisy, sigmas


# ---- classical methods (numpy, the same STFT as genlab's front end) ------------------------------


def stft(wave: np.ndarray) -> np.ndarray:
    return torch.stft(torch.from_numpy(wave), N_FFT, HOP, window=torch.hann_window(N_FFT), center=True,
                      return_complex=True).numpy()


def istft(spectrum: np.ndarray, length: int) -> np.ndarray:
    return torch.istft(torch.from_numpy(spectrum), N_FFT, HOP, window=torch.hann_window(N_FFT), center=True,
                       length=length).numpy()


def noise_power(sigma: float) -> float:
    """The expected power of white noise of this standard deviation in every STFT bin (Hann window)."""
    return sigma**2 * float(np.sum(np.hanning(N_FFT + 1)[:-1] ** 2))


def spectral_subtraction(wave: np.ndarray, sigma: float, alpha: float, beta: float) -> np.ndarray:
    spectrum = stft(wave)
    power = np.abs(spectrum) ** 2
    cleaned = np.maximum(power - alpha * noise_power(sigma), beta * power)
    return istft(spectrum * np.sqrt(cleaned / np.maximum(power, 1e-20)), len(wave))


def wiener(wave: np.ndarray, sigma: float, smoothing: float, floor: float) -> np.ndarray:
    spectrum = stft(wave)
    posterior = np.abs(spectrum) ** 2 / noise_power(sigma)  # a-posteriori SNR, (bins, frames)
    gains = np.empty_like(posterior)
    previous = np.zeros(posterior.shape[0])  # |G Y|^2 / noise of the previous frame
    for frame in range(posterior.shape[1]):
        prior = smoothing * previous + (1 - smoothing) * np.maximum(posterior[:, frame] - 1, 0)
        gains[:, frame] = np.maximum(prior / (1 + prior), floor)
        previous = gains[:, frame] ** 2 * posterior[:, frame]
    return istft(spectrum * gains, len(wave))


def spectral_gating(wave: np.ndarray, sigma: float, threshold: float, proportion: float, seed: int) -> np.ndarray:
    import noisereduce

    noise = (sigma * np.random.default_rng(seed).standard_normal(RATE)).astype(np.float32)  # 1 s of it alone
    return noisereduce.reduce_noise(y=wave, sr=RATE, y_noise=noise, stationary=True, n_fft=N_FFT, hop_length=HOP,
                                    n_std_thresh_stationary=threshold, prop_decrease=proportion).astype(np.float32)


def classical(method: str, wave: np.ndarray, sigma: float, parameters: tuple, seed: int) -> np.ndarray:
    if method == "spectral subtraction":
        return spectral_subtraction(wave, sigma, *parameters)
    if method == "Wiener filter":
        return wiener(wave, sigma, *parameters)
    return spectral_gating(wave, sigma, *parameters, seed)


def ceiling(front: Spectrogram, wave: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """`genlab denoise`'s mel-band gains with the clean clip's own spectrogram in the model's place."""
    return turned_down(front, wave, lambda _: front(torch.from_numpy(pieces(clean, front.samples))))


# ---- scores ----------------------------------------------------------------------------------------


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    reference = reference.astype(np.float64) - reference.mean()
    estimate = estimate.astype(np.float64) - estimate.mean()
    target = reference * (estimate @ reference) / max(reference @ reference, 1e-20)
    return float(10 * np.log10(max(target @ target, 1e-20) / max((estimate - target) @ (estimate - target), 1e-20)))


def pesq_nb(estimate: np.ndarray, reference: np.ndarray) -> float | None:
    from pesq import PesqError, pesq

    try:
        return float(pesq(RATE, reference, estimate, "nb"))
    except PesqError:  # no utterance found (a silent estimate): counted, not scored
        return None


def stoi(estimate: np.ndarray, reference: np.ndarray) -> float:
    from pystoi import stoi as short_time_objective_intelligibility

    return float(short_time_objective_intelligibility(reference, estimate, RATE, extended=False))


def clip_scores(estimates: list[np.ndarray], clean: list[np.ndarray], speakers: list[str]) -> dict:
    """Per clip: SI-SDR and PESQ (None where PESQ finds no utterance); per speaker: STOI of all their clips one after
    another (STOI needs more voiced frames than one short clip has: it gives 1e-5 below 30)."""
    by_speaker = {}
    for estimate, reference, speaker in zip(estimates, clean, speakers):
        by_speaker.setdefault(speaker, ([], []))
        by_speaker[speaker][0].append(estimate)
        by_speaker[speaker][1].append(reference)
    return {"si_sdr": [si_sdr(e, c) for e, c in zip(estimates, clean)],
            "pesq_nb": [pesq_nb(e, c) for e, c in zip(estimates, clean)],
            "stoi": [stoi(np.concatenate(e), np.concatenate(c)) for e, c in by_speaker.values()]}


def summaries(per_method: dict[str, dict]) -> dict[str, dict]:
    """Means per method; PESQ over the clips every method could be scored on (the same clips for all)."""
    common = [all(scores["pesq_nb"][i] is not None for scores in per_method.values())
              for i in range(len(next(iter(per_method.values()))["pesq_nb"]))]
    return {method: {"si_sdr": round(statistics.fmean(scores["si_sdr"]), 3),
                     "pesq_nb": round(statistics.fmean(q for q, keep in zip(scores["pesq_nb"], common) if keep), 3),
                     "stoi": round(statistics.fmean(scores["stoi"]), 4),
                     "pesq_clips": sum(common), "pesq_failures": sum(q is None for q in scores["pesq_nb"])}
            for method, scores in per_method.items()}


# ---- the run --------------------------------------------------------------------------------------


def clips(split_files: list[Path]) -> list[np.ndarray]:
    return [read_audio(path, RATE)[0] for path in split_files]


def fsdd_clips(tune: int) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """(validation clips for tuning, test clips, the test clips' speakers), read at their own lengths. The validation
    clips are taken from the training takes (5-49) by the same seeded split genlab holds out."""
    named = get_named_dataset("fsdd")
    directory = ensure_named_dataset(named, mirror=mirror_for("fsdd"))
    files, _, test = named.clips(directory)
    training = [f for f, held in zip(files, test) if not held]
    rng = np.random.default_rng(1)  # data.split_seed 0 + 1: genlab's validation split of the training clips
    order = rng.permutation(len(training))
    validation = [training[i] for i in sorted(order[: round(0.1 * len(training))])]
    tuning = [validation[i] for i in np.random.default_rng(7).permutation(len(validation))[:tune]]
    testing = [f for f, held in zip(files, test) if held]
    return clips(tuning), clips(testing), [f.stem.split("_")[1] for f in testing]


def tune(method: str, clean: list[np.ndarray], level: float) -> tuple[tuple, float]:
    noisy, sigmas = noisy_copy(clean, level, seed=1000 + int(level))
    best = None
    for parameters in GRIDS[method]:
        estimates = [classical(method, w, s, parameters, seed=i) for i, (w, s) in enumerate(zip(noisy, sigmas))]
        value = statistics.fmean(si_sdr(e, c) for e, c in zip(estimates, clean))
        if best is None or value > best[1]:
            best = (parameters, value)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--tune", type=int, default=60, help="validation clips that tune the classical methods")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N test clips (a quick look)")
    parser.add_argument("--runs", help="keep and reuse the trained models here (default: a temporary folder)")
    parser.add_argument("--output", default="speech_denoising")
    args = parser.parse_args()
    torch.manual_seed(0)
    tuning, test, speakers = fsdd_clips(args.tune)
    test, speakers = (test[: args.limit], speakers[: args.limit]) if args.limit else (test, speakers)
    results = {"levels": {}, "tuned": {}, "train_minutes": {}}
    for level in LEVELS_DB:
        started = time.time()
        results["tuned"][str(level)] = {method: tune(method, tuning, level) for method in GRIDS}
        print(f"{level:g} dB: tuned {results['tuned'][str(level)]} ({time.time() - started:.0f} s)")

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.runs) if args.runs else Path(scratch)
        models = {}
        for seed in args.seeds:
            settings = {**DAE, "train.epochs": args.epochs}
            run = trained_run(root / f"dae-{settings_tag(settings)}-seed{seed}", "dae", "fsdd", settings, seed=seed)
            results["train_minutes"][str(seed)] = train_minutes(run)
            models[seed] = genlab.load(run)
        front = Spectrogram.from_dict(models[args.seeds[0]].config.audio)
        for level in LEVELS_DB:
            noisy, sigmas = noisy_copy(test, level, seed=int(level))
            per_method = {"noisy input": clip_scores(noisy, test, speakers)}
            for method in GRIDS:
                parameters = tuple(results["tuned"][str(level)][method][0])
                per_method[method] = clip_scores([classical(method, w, s, parameters, seed=10_000 + i)
                                                  for i, (w, s) in enumerate(zip(noisy, sigmas))], test, speakers)
            for seed, model in models.items():
                per_method[f"genlab dae seed {seed}"] = clip_scores([denoise_clip(model, w) for w in noisy], test, speakers)
            per_method[CEILING] = clip_scores([ceiling(front, w, c) for w, c in zip(noisy, test)], test, speakers)
            summary = summaries(per_method)
            seeds = [f"genlab dae seed {seed}" for seed in models]
            row = {name: summary[name] for name in ("noisy input", *GRIDS, CEILING)}
            row["genlab dae"] = {key: mean_sd([summary[s][key] for s in seeds]) for key in ("si_sdr", "pesq_nb", "stoi")}
            row["genlab dae"]["per_seed"] = {s.rsplit(" ", 1)[1]: summary[s] for s in seeds}
            best = max(GRIDS, key=lambda m: row[m]["si_sdr"])
            row["best classical (SI-SDR)"] = best
            row["margin_si_sdr_db"] = mean_sd([summary[s]["si_sdr"] - row[best]["si_sdr"] for s in seeds])
            row["margin_pesq"] = mean_sd([summary[s]["pesq_nb"] - max(row[m]["pesq_nb"] for m in GRIDS) for s in seeds])
            results["levels"][str(level)] = row
            shown = {name: (row[name]["si_sdr"], row[name]["pesq_nb"]) for name in ("noisy input", *GRIDS)}
            shown["genlab dae"] = (row["genlab dae"]["si_sdr"]["mean"], row["genlab dae"]["pesq_nb"]["mean"])
            print(f"{level:g} dB: " + "; ".join(f"{name} SI-SDR {sdr:.2f} PESQ {quality:.2f}"
                                                for name, (sdr, quality) in shown.items()))
    goal = results["levels"]["0.0"]["margin_si_sdr_db"]["mean"] >= 3.0 and all(
        results["levels"][str(level)]["margin_pesq"]["mean"] > 0 for level in LEVELS_DB)
    write_result(args.output, {
        "benchmark": "speech_denoising", "selection_protocol": SELECTION, "machine": machine(),
        "protocol": {"data": "fsdd: 2,700 training clips (10% held out), the 300 test clips (takes 0-4) at their own "
                             "lengths, 8 kHz", "noise": "white Gaussian, SNR 0/5/10 dB per clip, seeded per level",
                     "test_clips": len(test), "tuning_clips": len(tuning), "ceiling_row": CEILING, "dae": DAE, "epochs": args.epochs,
                     "seeds": args.seeds, "grids": {k: [list(p) for p in v] for k, v in GRIDS.items()},
                     "stft": {"n_fft": N_FFT, "hop": HOP, "window": "hann"},
                     "classical_noise_knowledge": "the true noise power (noisereduce: a separate 1 s recording of it)"},
        "results": results, "goal": "genlab >= best classical + 3 dB SI-SDR at 0 dB, and ahead on PESQ at every level",
        "goal_met": bool(goal)})


if __name__ == "__main__":
    main()
