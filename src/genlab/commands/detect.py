"""genlab detect fit, score and explain: anomaly detection on records or images."""

from __future__ import annotations

import argparse

from genlab.bounds import MAX_SEED
from genlab.commands.common import (
    add_device,
    add_inputs,
    add_output,
    add_settings,
    lazy,
    progress,
    whole,
    with_examples,
)

runs = lazy("genlab.apps.detect_runs")


def register(commands, common) -> None:
    detect = commands.add_parser("detect", parents=[common], help="anomaly detection: fit a detector, score new records")
    actions = detect.add_subparsers(title="detect commands", metavar="ACTION")
    fit = actions.add_parser(
        "fit", parents=[common], help="train a model on normal data and set the anomaly threshold",
        **with_examples("genlab detect fit --data transactions.csv --run-dir runs/detector --contamination 0.02"))
    fit.add_argument("--data", required=True, help="named dataset, .npy/.npz/.csv file or image folder of normal records "
                                                   "(every record is used, none held out)")
    fit.add_argument("--run-dir", required=True, help="where to write the run and its detector.json")
    fit.add_argument("--model", default="ae-ensemble",
                     help="ae-ensemble (small autoencoders, robustly trained: 8 fully connected ones, or 2 "
                          "convolutional ones for images of at least 16x16 pixels), ae, dae, sparse-ae or vae "
                          "(default ae-ensemble)")
    fit.add_argument("--arch", choices=("auto", "mlp", "conv", "linear"), default="auto",
                     help="the networks: auto (for the ae-ensemble convolutional members for images of at least "
                          "16x16 pixels, fully connected ones otherwise; mlp for the other models), mlp, conv or "
                          "linear (not for the ae-ensemble) (default auto; a model.arch in --config or --set wins)")
    fit.add_argument("--score", default="auto",
                     help="ensemble (ae-ensemble only), reconstruction, weighted-reconstruction, elbo, nll (vae), latent "
                          "or auto (default auto: ensemble for the ae-ensemble, nll for a vae, reconstruction otherwise)")
    fit.add_argument("--contamination", type=contamination_share, default=0.1,
                     help="expected share of anomalies in the data, in (0, 0.5], or auto: a robust outlier cut-off on "
                          "the training scores (modified z-score above 3.5, Iglewicz and Hoaglin) (default 0.1)")
    fit.add_argument("--epochs", type=whole(1, 10**6), default=None,
                     help="training epochs (default: from the data's size for the ae-ensemble, about 2 passes and "
                          "300 to 1,000 steps (at least one pass), or for its convolutional members 40 passes and at "
                          "most 4,000 steps; 30 for the other models)")
    fit.add_argument("--latent-dim", type=whole(1, 65_536), default=None,
                     help="code dimensions (default: from the data's width; a quarter of the features, 2 to 32, for "
                          "the ae-ensemble's members, at most 8 and half the features for the other models)")
    fit.add_argument("--seed", type=whole(0, MAX_SEED), default=0, help="random seed of the training run (default 0)")
    add_settings(fit)
    add_device(fit, default="auto")
    fit.set_defaults(handler=run_fit)

    score = actions.add_parser("score", parents=[common], help="score records with a fitted detector: one row per record")
    score.add_argument("run", help="run directory written by genlab detect fit")
    add_inputs(score)
    add_output(score, "CSV with columns name, score, anomaly (1 = anomaly)")
    add_device(score)
    score.set_defaults(handler=run_score)
    explain = actions.add_parser(
        "explain", parents=[common], help="split each record's score into its columns, features or pixels",
        **with_examples("genlab detect explain runs/detector new.csv -o why.csv",
                        "genlab detect explain runs/digits digit.png -o map.npy"))
    explain.add_argument("run", help="run directory written by genlab detect fit (score reconstruction or "
                                     "weighted-reconstruction)")
    add_inputs(explain)
    add_output(explain, "CSV (name, score, one column per table column or feature) or .npy of the parts "
                        "(an image's map: .npy only)")
    add_device(explain)
    explain.set_defaults(handler=run_explain)
    detect.set_defaults(handler=lambda _: detect.print_help())


def contamination_share(text: str):
    """--contamination: auto, or a share in (0, 0.5]."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or auto") from None
    if not 0.0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 0.5]")
    return value


def run_fit(args) -> None:
    detector = runs.fit_detector_run(
        args.data, args.run_dir, model=args.model, score=args.score, contamination=args.contamination, epochs=args.epochs,
        latent_dim=args.latent_dim, arch=args.arch, seed=args.seed, config=args.config, overrides=args.overrides,
        device=args.device, progress=progress(args))
    print(f"detector in {detector.path_}: score {detector.score_}, threshold {detector.threshold_:.6g} "
          f"({detector.labels_.mean():.1%} of the {len(detector.labels_):,} training records above it)")


def run_score(args) -> None:
    scores, flags, threshold = runs.score_files(args.run, args.inputs, args.output, device=args.device)
    print(f"scored {len(scores)} records into {args.output}: {int(flags.sum())} above the threshold {threshold:.6g}")


def run_explain(args) -> None:
    scores, parts = runs.explain_files(args.run, args.inputs, args.output, device=args.device)
    print(f"explained {len(scores)} records into {args.output}"
          + (f": {len(parts)} parts each" if parts else ": one map per image"))
