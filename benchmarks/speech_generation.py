"""Speech generation: spoken digits from genlab's conditional VAE and conditional GAN, judged by a classifier.

Protocol
- Data: the Free Spoken Digit Dataset (fsdd) as genlab reads it: 1x64x128 log-mel spectrograms
  (8 kHz, 1.016 s, 64 mels); training split takes 5-49 (2,700 clips, 10% held out for
  validation), test split takes 0-4 (300 clips: 30 per digit).
- Judge: genlab's `classifier` (its small CNN, `--judge-epochs` with a cosine schedule) trained on
  the training split; its accuracy on the test clips is reported (bar: 95%). Its penultimate
  layer is the feature space of the Fréchet distance.
- Models: `cvae` and `cgan` (settings in MODELS), trained on the training split only, seeds
  `--seeds`; training minutes on this machine recorded (the Trainer's own wall time, also for a
  model reused from `--runs`).
- What is judged is what a listener hears: each model draws `--per-class` samples of every digit;
  each spectrogram becomes a waveform as `genlab sample -o x.wav` writes it (Griffin-Lim, 100
  iterations) and is analysed again by the front end.
- Scores: recognised (the fraction the judge classes as the digit asked for), the mean entropy
  of the judge's prediction per clip (nats; low: unambiguous), the entropy of the judge's class
  histogram (log 10 = 2.303 when every digit is as frequent), the Fréchet distance to the 300 real
  test clips in the judge's features, of 270 clips (27 per digit) whatever the set, as the distance
  depends on the set's size.
- Ceilings: the real test clips (recognition), and the 270 validation clips, which neither the
  judge nor the models trained on, as they are and after the same Griffin-Lim round trip (what the
  way back to sound costs), scored the same way.
- Goal: at least 80% recognised for the better model.
- Sound: one clip of a few digits from each model (and the real clip) is written beside the JSON
  in results/speech_generation/.

Run:  python benchmarks/speech_generation.py [--seeds 0] [--runs DIR]
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import numpy as np
import torch
from _common import (
    RESULTS,
    machine,
    mean_sd,
    mirror_for,
    settings_tag,
    train_minutes,
    trained_run,
    write_result,
)

import genlab
from genlab.apps.outputs import to_waveforms
from genlab.data import load_dataset
from genlab.data.audio import write_audio
from genlab.data.config import DataConfig
from genlab.data.spectrogram import Spectrogram
from genlab.eval.quality import frechet_distance

SELECTION = "model settings fixed before the test clips were scored; the judge and models see the training split only"
MODELS = {
    "cvae": {"model.arch": "conv", "model.latent_dim": 16, "model.beta": 1.0, "train.scheduler": "cosine"},
    "cgan": {"train.scheduler": "constant"},
}
EPOCHS = {"cvae": 100, "cgan": 200}
JUDGE = {"train.scheduler": "cosine"}
SOUND_DIGITS = (2, 5, 7)  # digits whose samples are written as WAV beside the JSON
BATCH = 200
FRECHET_CLIPS = 270  # per Fréchet distance: as many clips as the validation split has (the unseen real reference)


def data_config() -> DataConfig:
    return DataConfig(name="fsdd")


def mirror() -> str | None:
    return mirror_for("fsdd")


@torch.no_grad()
def judged(judge, decibels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(probabilities, features) of the judge for spectrograms in dB."""
    probabilities, features = [], []
    for start in range(0, len(decibels), BATCH):
        x = judge.preprocess(decibels[start:start + BATCH].numpy())
        probabilities.append(judge.predict_proba(x).cpu())
        features.append(judge.features(x).cpu())
    return torch.cat(probabilities), torch.cat(features)


def heard(front: Spectrogram, waves: np.ndarray) -> torch.Tensor:
    """Waveforms analysed again by the front end: the spectrograms a listener's clip has."""
    return front(torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32)))


def scores(judge, decibels: torch.Tensor, asked: torch.Tensor, reference_features: torch.Tensor,
           compared: int = FRECHET_CLIPS) -> dict:
    """Recognition and entropies over every clip; the Fréchet distance of `compared` of them (spread evenly over the
    classes: sets of one size, as the distance depends on it) to the reference features."""
    probabilities, features = judged(judge, decibels)
    per_class = compared // int(asked.max() + 1)
    chosen = torch.cat([(asked == c).nonzero()[:per_class, 0] for c in range(int(asked.max() + 1))])
    predicted = probabilities.argmax(1)
    per_clip = -(probabilities * probabilities.clamp(min=1e-12).log()).sum(1).mean()
    histogram = torch.bincount(predicted, minlength=probabilities.shape[1]).float() / len(predicted)
    marginal = -(histogram * histogram.clamp(min=1e-12).log()).sum()
    return {"recognised": round(float((predicted == asked).float().mean()), 4),
            "entropy_per_clip_nats": round(float(per_clip), 4), "class_entropy_nats": round(float(marginal), 4),
            "frechet_distance": round(frechet_distance(features[chosen].numpy(), reference_features.numpy()), 3),
            "clips": len(decibels), "frechet_clips": len(chosen)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--judge-epochs", type=int, default=60)
    parser.add_argument("--epochs", type=int, nargs=2, metavar=("CVAE", "CGAN"), default=None)
    parser.add_argument("--runs", help="keep and reuse the trained models here (default: a temporary folder)")
    parser.add_argument("--output", default="speech_generation")
    args = parser.parse_args()
    epochs = dict(zip(("cvae", "cgan"), args.epochs)) if args.epochs else EPOCHS
    dataset = load_dataset(data_config(), mirror=mirror())
    front = Spectrogram.from_dict(dataset.audio)
    sound = RESULTS / args.output
    sound.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.runs) if args.runs else Path(scratch)
        judge_settings = {"train.epochs": args.judge_epochs, **JUDGE}
        judge_run = trained_run(root / f"judge-{settings_tag(judge_settings)}", "classifier", "fsdd", judge_settings)
        judge, judge_minutes = genlab.load(judge_run), train_minutes(judge_run)
        test_db = dataset.test.x.float()  # spectrograms are stored in dB
        test_y = dataset.test.y
        test_probabilities, test_features = judged(judge, test_db)
        accuracy = float((test_probabilities.argmax(1) == test_y).float().mean())
        print(f"judge: test accuracy {accuracy:.4f} ({judge_minutes:.1f} min)")
        # real clips the judge never trained on, as many as the samples compared: the validation clips
        unseen_db, unseen_y = dataset.val.x.float(), dataset.val.y
        ceilings = {
            "real test clips": scores(judge, test_db, test_y, test_features),
            "real validation clips": scores(judge, unseen_db, unseen_y, test_features),
            "real validation clips after Griffin-Lim": scores(
                judge, heard(front, front.waveforms(unseen_db, 100).numpy()), unseen_y, test_features),
        }
        ceilings["real test clips"].pop("frechet_distance")  # against itself: 0 by construction
        write_audio(sound / "real.wav", np.concatenate([front.waveforms(test_db[test_y == d][:1], 100)[0].numpy()
                                                        for d in SOUND_DIGITS]), front.rate)
        rows: dict[str, dict] = {}
        for name, settings in MODELS.items():
            per_seed, minutes = {}, {}
            for seed in args.seeds:
                trained = {**settings, "train.epochs": epochs[name]}
                run = trained_run(root / f"{name}-{settings_tag(trained)}-seed{seed}", name, "fsdd", trained, seed=seed)
                minutes[str(seed)] = train_minutes(run)
                model = genlab.load(run)
                asked = torch.arange(10).repeat_interleave(args.per_class)
                samples = torch.cat([model.sample(len(part), torch.Generator().manual_seed(seed * 1000 + i), part)
                                     for i, part in enumerate(asked.split(BATCH))])
                waves = np.concatenate([to_waveforms(model, part) for part in samples.split(BATCH)])
                per_seed[str(seed)] = scores(judge, heard(front, waves), asked, test_features)
                print(f"{name} seed {seed}: {per_seed[str(seed)]} ({minutes[str(seed)]} min)")
                if seed == args.seeds[0]:
                    first = [int((asked == d).nonzero()[0]) for d in SOUND_DIGITS]
                    write_audio(sound / f"{name}.wav", np.concatenate([waves[i] for i in first]), front.rate)
            rows[name] = {key: mean_sd([per_seed[s][key] for s in per_seed])
                          for key in ("recognised", "entropy_per_clip_nats", "class_entropy_nats", "frechet_distance")}
            rows[name].update({"per_seed": per_seed, "train_minutes": minutes, "epochs": epochs[name],
                               "settings": settings})
    better = max(rows, key=lambda n: rows[n]["recognised"]["mean"])
    write_result(args.output, {
        "benchmark": "speech_generation", "selection_protocol": SELECTION, "machine": machine(),
        "protocol": {"data": "fsdd (genlab's default front end: 1x64x128 log-mel, 8 kHz, 1.016 s)",
                     "front_end": dataset.audio, "train_clips": len(dataset.train), "test_clips": len(dataset.test),
                     "per_class": args.per_class, "seeds": args.seeds, "griffin_lim_iterations": 100,
                     "judge": {"model": "classifier (small CNN)", "epochs": args.judge_epochs, "settings": JUDGE,
                               "test_accuracy": round(accuracy, 4), "train_minutes": round(judge_minutes, 2)},
                     "uniform_class_entropy_nats": round(math.log(10), 4),
                     "sound": {"files": sorted(p.name for p in sound.glob("*.wav")), "digits": list(SOUND_DIGITS)}},
        "ceilings": ceilings, "models": rows, "better_model": better,
        "goal": "at least 80% recognised for the better model; the judge at least 95% on the test clips",
        "goal_met": bool(rows[better]["recognised"]["mean"] >= 0.8 and accuracy >= 0.95)})


if __name__ == "__main__":
    main()
