"""The `genlab` command.

    genlab train vae --data digits --epochs 20
    genlab sample runs/vae-digits-... -n 64 -o grid.png
    genlab data fetch mnist

Problems with the input are printed as one line starting with "error:" and exit
with status 2 (1 when training diverged); no output file is left half-written.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from genlab import __version__
from genlab.errors import GenlabError

EXAMPLES = """examples:
  genlab train vae --data digits --epochs 20
  genlab train dae --data mnist --set model.noise=masking --set train.lr=3e-4
  genlab train --config runs/vae-digits-20260101-120000/config.yaml
  genlab train --resume runs/vae-digits-20260101-120000 --epochs 40
  genlab sample RUN -n 64 -o samples.png
  genlab eval RUN -o results.json
  genlab compress RUN images/ -o images.glz && genlab decompress images.glz -o decoded/
  genlab denoise RUN noisy.png -o clean.png
  genlab detect fit --data records.csv --run-dir runs/detector && genlab detect score runs/detector new.csv -o scores.csv
  genlab latent RUN --plot scatter -o codes.png
  genlab data fetch mnist --mirror /path/to/folder/with/mnist/files
"""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        args.handler(args)
    except GenlabError as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genlab", description="Train, sample, evaluate and inspect autoencoders, VAEs, GANs and classifiers.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"genlab {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    train = commands.add_parser("train", help="train a model and write a run directory",
                                description="Train a model; writes config.yaml, model/, checkpoints/, metrics.jsonl, samples/.")
    train.add_argument("model", nargs="?", help="model name (genlab models lists them); optional with --config or --resume")
    train.add_argument("--data", help="named dataset, .npy/.npz/.csv file, or image folder (default: digits)")
    train.add_argument("--epochs", type=int, help="number of epochs (default 10)")
    train.add_argument("--run-dir", help="where to write the run (default runs/MODEL-DATA-DATE-TIME)")
    train.add_argument("--config", help="YAML file with model/data/train/seed sections, such as a run's config.yaml")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override one setting, e.g. --set train.lr=3e-4 --set model.latent_dim=8 (repeatable)")
    train.add_argument("--resume", nargs="?", const=True, metavar="RUN_DIR",
                       help="continue a run from its last checkpoint (RUN_DIR, or the --run-dir given)")
    train.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    train.set_defaults(handler=cmd_train)

    sample = commands.add_parser("sample", help="draw new samples from a trained model")
    sample.add_argument("run", help="run directory or model folder")
    sample.add_argument("-n", "--count", type=int, default=64, help="how many samples (default 64)")
    sample.add_argument("-o", "--output", default="samples.png", help=".png grid, or .npy/.csv values in data units")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sample.add_argument("--class", dest="label", type=int, help="generate this class (conditional models: cgan, cvae)")
    sample.add_argument("--sampler", choices=["prior", "gmm"], default="prior",
                        help="prior: the model's own; gmm: a Gaussian mixture fitted to training codes (ae, vae)")
    sample.add_argument("--components", type=int, default=10, help="mixture components for --sampler gmm (default 10)")
    sample.set_defaults(handler=cmd_sample)

    reconstruct = commands.add_parser("reconstruct", help="encode and decode data: a grid of originals over reconstructions")
    reconstruct.add_argument("run", help="run directory or model folder")
    reconstruct.add_argument("--data", required=True, help="dataset name or path, shaped like the training data")
    reconstruct.add_argument("--split", default="test", choices=["train", "val", "test"])
    reconstruct.add_argument("-n", "--count", type=int, default=32, help="how many samples (default 32)")
    reconstruct.add_argument("-o", "--output", default="reconstructions.png", help=".png grid, or .npy values in data units")
    reconstruct.set_defaults(handler=cmd_reconstruct)

    encode = commands.add_parser("encode", help="write the latent codes of a dataset split")
    encode.add_argument("run", help="run directory or model folder")
    encode.add_argument("--data", required=True, help="dataset name or path, shaped like the training data")
    encode.add_argument("--split", default="test", choices=["train", "val", "test"])
    encode.add_argument("-o", "--output", default="codes.npy", help=".npy (codes) or .npz (codes and labels)")
    encode.add_argument("--batch-size", type=int, default=1024)
    encode.set_defaults(handler=cmd_encode)

    evaluate = commands.add_parser(
        "eval", help="evaluate a run: likelihood, reconstruction, sample quality, probes (offline)",
        description="Evaluate a trained model on a split of its data. Every number is written with its protocol "
                    "(split, counts, seeds, k, the feature extractor's SHA-256, torch version, machine).",
        epilog="examples:\n  genlab eval RUN\n  genlab eval RUN --metrics likelihood --k 5000 -o nll.json\n"
               "  genlab eval RUN --metrics quality diversity --samples 10000 --sampler gmm\n"
               "  genlab eval --prepare-features mnist",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_argument("run", nargs="?", help="run directory or model folder")
    evaluate.add_argument("--metrics", nargs="+", metavar="GROUP",
                          help="likelihood, reconstruction, quality, diversity, representation, classification "
                               "(default: every group that applies to the model)")
    evaluate.add_argument("--data", help="dataset to evaluate on (default: the run's own data settings)")
    evaluate.add_argument("--split", default="test", choices=["train", "val", "test"])
    evaluate.add_argument("--samples", type=int, default=10_000, help="generated samples for quality (default 10000)")
    evaluate.add_argument("--k", type=int, default=5000, help="importance samples per example for the NLL (default 5000)")
    evaluate.add_argument("--sampler", choices=["prior", "gmm"], default="prior", help="how samples are drawn (default prior)")
    evaluate.add_argument("--components", type=int, default=10, help="mixture components for --sampler gmm")
    evaluate.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for intervals (0: none)")
    evaluate.add_argument("--limit", type=int, help="use only the first N examples of the split (quick checks)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--inception-weights", metavar="FILE",
                          help="the FID Inception weights (pt_inception-2015-12-05-*.pth): adds FID/KID in that space")
    evaluate.add_argument("-o", "--output", help="write the results and protocol as JSON to this file")
    evaluate.add_argument("--prepare-features", metavar="DATASET",
                          help="train and cache the reference classifier of DATASET (mnist, fashion-mnist, digits)")
    evaluate.add_argument("--root", help="data root for --prepare-features (default $GENLAB_DATA or ~/.cache/genlab)")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bars")
    evaluate.set_defaults(handler=cmd_eval)

    report = commands.add_parser(
        "report", help="one self-contained HTML page about a run (opens from disk, no network)",
        description="Summary, config, loss curves, sample grids across training, reconstructions, a latent map and the "
                    "metrics of `genlab eval` (run it first to include them), in one HTML file.")
    report.add_argument("run", help="run directory")
    report.add_argument("-o", "--output", help="the .html to write (default RUN/report.html)")
    report.add_argument("--eval", dest="eval_file", help="results JSON of genlab eval (default RUN/eval.json when present)")
    report.set_defaults(handler=cmd_report)

    compare = commands.add_parser(
        "compare", help="compare generators on one dataset: quality, diversity, reconstruction, speed, size, stability",
        description="Runs that differ only in their seed are one recipe (mean and spread over seeds). Evaluation results "
                    "missing from a run's eval.json are computed and stored there. Writes OUTPUT.html, .md and .json.",
        epilog="example:\n  genlab compare runs/vae-mnist-s0 runs/vae-mnist-s1 runs/vae-mnist-s2 runs/gan-mnist-s0 "
               "runs/gan-mnist-s1 runs/gan-mnist-s2 -o vae-vs-gan.html", formatter_class=argparse.RawDescriptionHelpFormatter)
    compare.add_argument("runs", nargs="+", metavar="RUN", help="run directories (at least two)")
    compare.add_argument("-o", "--output", default="compare.html", help="the .html to write; .md and .json go beside it")
    compare.add_argument("--samples", type=int, default=5000, help="generated samples per run (default 5000)")
    compare.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    compare.add_argument("--quiet", action="store_true")
    compare.set_defaults(handler=cmd_compare)

    serve = commands.add_parser(
        "serve", help="a local web app to explore a model: samples, latent map, sliders, your own images",
        description="Serves one run in the browser: draw samples, click a 2-D map of the latent space, move sliders, "
                    "interpolate, and upload or draw an image to see its reconstruction, a denoised version and its "
                    "anomaly score. Binds to loopback unless --host says otherwise. Needs the serve extra "
                    "(pip install 'genlab[serve]').")
    serve.add_argument("run", help="run directory of an image model (ae, dae, vae, cvae, gan, cgan, ...)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.set_defaults(handler=cmd_serve)

    info = commands.add_parser("info", help="describe a run: model, data, progress, last metrics")
    info.add_argument("run", help="run directory or model folder")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(handler=cmd_info)

    models = commands.add_parser("models", help="list the models and their settings")
    models.add_argument("name", nargs="?", help="show one model's settings and defaults")
    models.set_defaults(handler=cmd_models)

    data = commands.add_parser("data", help="list, download and verify named datasets")
    data_commands = data.add_subparsers(title="data commands", metavar="ACTION")
    data_list = data_commands.add_parser("list", help="named datasets and whether they are cached")
    data_list.add_argument("--root", help="dataset cache (default $GENLAB_DATA or ~/.cache/genlab)")
    data_list.set_defaults(handler=cmd_data_list)
    fetch = data_commands.add_parser("fetch", help="download a dataset into the cache and verify it")
    fetch.add_argument("name")
    fetch.add_argument("--mirror", help="URL or local folder holding the published files (.gz or archive)")
    fetch.add_argument("--root", help="dataset cache (default $GENLAB_DATA or ~/.cache/genlab)")
    fetch.set_defaults(handler=cmd_data_fetch)
    verify = data_commands.add_parser("verify", help="check the SHA-256 of every cached file of a dataset")
    verify.add_argument("name")
    verify.add_argument("--root", help="dataset cache (default $GENLAB_DATA or ~/.cache/genlab)")
    verify.set_defaults(handler=cmd_data_verify)
    data.set_defaults(handler=lambda _: data.print_help())

    from genlab.apps.commands import add_app_commands

    add_app_commands(commands)
    return parser


# ---- train -----------------------------------------------------------------------------


def cmd_train(args) -> None:
    from genlab.api import train

    if args.resume is not None:
        run_dir = args.run_dir if args.resume is True else args.resume
        if args.model or args.data or args.config:
            raise GenlabError("--resume continues a run as configured; give only the run directory (and train.* changes)")
        train(run_dir=run_dir, resume=True, epochs=args.epochs, overrides=args.overrides, progress=not args.quiet)
        return
    if args.model is None and args.config is None:
        raise GenlabError("name a model (genlab train vae --data digits) or give --config FILE.yaml; `genlab models` lists models")
    train(args.model, args.data, epochs=args.epochs, run_dir=args.run_dir, config=args.config,
          overrides=args.overrides, progress=not args.quiet)


# ---- inference -------------------------------------------------------------------------


def cmd_sample(args) -> None:
    from genlab.api import load
    from genlab.models.latent import LatentModel

    model = load(args.run)
    if not hasattr(model, "sample"):
        raise GenlabError(f"a {model.model_name} model does not generate samples")
    if args.count < 1:
        raise GenlabError(f"-n must be at least 1 (got {args.count})")
    output = _output_path(args.output, (".png", ".npy", ".csv"))
    generator = torch.Generator().manual_seed(args.seed)
    labels = torch.full((args.count,), args.label) if args.label is not None else None
    if args.sampler == "gmm":
        if not isinstance(model, LatentModel) or model.conditional:
            raise GenlabError(f"--sampler gmm needs an unconditional autoencoder or VAE, not a {model.model_name}")
        if labels is not None:
            raise GenlabError("--sampler gmm draws from all classes; drop --class")
        from genlab.samplers import run_gmm_sampler

        samples = run_gmm_sampler(args.run, model, args.components).sample(model, args.count, generator)
    else:
        samples = model.sample(args.count, generator, labels)
    _write_samples(model, samples, output)
    print(f"wrote {args.count} samples to {output}")


def cmd_reconstruct(args) -> None:
    model = _load_latent_model(args.run, "reconstruct")
    output = _output_path(args.output, (".png", ".npy"))
    x, y = _model_inputs(model, args.data, args.split, limit=max(1, args.count))
    reconstructions = model.reconstruct(x, _labels_for(model, y, args.data))
    mse = float((reconstructions - x).square().mean())
    if output.suffix == ".png":
        _require_images(model, "a .png grid")
        from genlab.images import save_image_grid
        from genlab.models.latent import to_unit_range

        columns = min(8, len(x))
        rows = [t for r in range(0, len(x), columns) for t in (x[r : r + columns], reconstructions[r : r + columns])]
        save_image_grid(to_unit_range(torch.cat(rows), model.config.value_range), output, columns=columns)
    else:
        _save_array(output, _to_data_units(model, reconstructions))
    print(f"wrote {len(x)} reconstructions to {output} (mean squared error {mse:.5f} in model units)")


def cmd_encode(args) -> None:
    model = _load_latent_model(args.run, "encode")
    output = _output_path(args.output, (".npy", ".npz"))
    x, y = _model_inputs(model, args.data, args.split)
    labels = _labels_for(model, y, args.data)
    with torch.no_grad():
        codes = torch.cat([model.encode(x[i : i + args.batch_size], None if labels is None else labels[i : i + args.batch_size])
                           for i in range(0, len(x), args.batch_size)])
    codes = codes.float().numpy()
    if output.suffix == ".npz":
        from genlab.files import atomic_path

        with atomic_path(output) as scratch, open(scratch, "wb") as handle:
            np.savez(handle, codes=codes, **({"labels": y.numpy()} if y is not None else {}))
    else:
        _save_array(output, codes)
    print(f"wrote codes of shape {codes.shape} to {output}")


# ---- info and listings -----------------------------------------------------------------


def cmd_eval(args) -> None:
    if args.prepare_features:
        from genlab.eval.features import reference_classifier_dir, train_reference_classifier, weights_sha256

        if args.run:
            raise GenlabError("--prepare-features trains a reference classifier; run it without a RUN argument")
        target = train_reference_classifier(args.prepare_features, root=args.root, progress=not args.quiet)
        print(f"reference classifier for {args.prepare_features} in {reference_classifier_dir(args.prepare_features, args.root)} "
              f"(sha256 {weights_sha256(target)})")
        return
    if not args.run:
        raise GenlabError("name the run to evaluate (genlab eval RUN), or use --prepare-features DATASET")
    output = _output_path(args.output, (".json",)) if args.output else None
    from genlab.eval.runner import as_json_ready, evaluate, format_results

    results = evaluate(args.run, args.metrics, data=args.data, split=args.split, samples=args.samples, k=args.k,
                       seed=args.seed, sampler=args.sampler, components=args.components, bootstrap=args.bootstrap,
                       limit=args.limit, inception_weights=args.inception_weights, progress=not args.quiet)
    print(format_results(results))
    from genlab.files import write_text_atomic
    from genlab.report.summary import EVAL_FILE

    text = json.dumps(as_json_ready(results), indent=2) + "\n"
    if (Path(args.run) / "config.yaml").is_file():  # a run directory keeps its latest results for reports
        write_text_atomic(Path(args.run) / EVAL_FILE, text)
    if output is not None:
        write_text_atomic(output, text)
        print(f"wrote {output}")


def cmd_report(args) -> None:
    import time

    from genlab.report import render_report

    started = time.perf_counter()
    path = render_report(args.run, args.output, args.eval_file)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB, {time.perf_counter() - started:.1f} s)")


def cmd_compare(args) -> None:
    from genlab.report.compare import compare_runs, to_markdown

    comparison = compare_runs(args.runs, args.output, samples=args.samples, seed=args.seed, progress=not args.quiet)
    print(to_markdown(comparison))
    output = Path(args.output)
    print(f"wrote {output}, {output.with_suffix('.md')} and {output.with_suffix('.json')}")


def cmd_serve(args) -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise GenlabError("genlab serve needs FastAPI and uvicorn: pip install 'genlab[serve]'") from None
    if not 0 < args.port < 65536:
        raise GenlabError(f"--port must be between 1 and 65535 (got {args.port})")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"note: listening on {args.host}: other machines that reach it can use the explorer", file=sys.stderr)
    from genlab.serve.app import serve

    serve(args.run, args.host, args.port)


def cmd_info(args) -> None:
    from genlab.report.summary import run_summary

    summary = run_summary(args.run)
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    width = max(len(key) for key in summary)
    for key, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v:.5g}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items()) or "-"
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
            value = f"{value:,}"
        print(f"{key:<{width}}  {value}")


def cmd_models(args) -> None:
    import dataclasses

    from genlab.models import get_model_class, list_models

    names = [args.name] if args.name else list_models()
    for name in names:
        cls = get_model_class(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        print(f"{name:<14} {cls.__name__}: {doc}")
        if args.name:
            comments = field_comments(cls.config_class)
            for field in dataclasses.fields(cls.config_class):
                if field.metadata.get("derived"):
                    continue
                default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
                note = f"  # {comments[field.name]}" if field.name in comments else ""
                print(f"  model.{field.name:<22} default {default!r}{note}")


def field_comments(config_class) -> dict[str, str]:
    """The comment written beside each field of a config dataclass (and its bases): its help text."""
    import inspect
    import re

    comments: dict[str, str] = {}
    for klass in reversed(config_class.__mro__):
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue  # built-in classes, or source not shipped
        for match in re.finditer(r"^\s+(\w+)\s*:[^#\n]*#\s*(.+)$", source, flags=re.MULTILINE):
            comments[match.group(1)] = match.group(2).strip()
    return comments


def cmd_data_list(args) -> None:
    from genlab.data.catalog import NAMED_DATASETS
    from genlab.data.download import data_root

    root = data_root(args.root)
    print(f"cache: {root}")
    for named in NAMED_DATASETS.values():
        if not named.needs_files:
            state = "bundled"
        else:
            present = sum((root / named.name / f.name).is_file() for f in named.files)
            state = "cached" if present == len(named.files) else f"{present}/{len(named.files)} files"
        print(f"  {named.name:<14} {state:<10} {named.download_size:>8}  {named.description}")


def cmd_data_fetch(args) -> None:
    from genlab.data.catalog import get_named_dataset
    from genlab.data.dataset import ensure_named_dataset

    named = get_named_dataset(args.name)
    if not named.needs_files:
        print(f"{named.name} ships with scikit-learn; nothing to fetch")
        return
    directory = ensure_named_dataset(named, args.root, download=True, mirror=args.mirror)
    print(f"{named.name}: {len(named.files)} files verified in {directory}")


def cmd_data_verify(args) -> None:
    from genlab.data.catalog import get_named_dataset
    from genlab.data.download import data_root, verify_cached

    named = get_named_dataset(args.name)
    if not named.needs_files:
        print(f"{named.name} ships with scikit-learn; nothing to verify")
        return
    directory = data_root(args.root) / named.name
    missing = verify_cached(named.name, directory, named.files)
    if missing:
        raise GenlabError(f"{named.name}: {', '.join(missing)} missing from {directory}; run `genlab data fetch {named.name}`")
    print(f"{named.name}: {len(named.files)} files match their SHA-256 in {directory}")


# ---- helpers ---------------------------------------------------------------------------


def _load_latent_model(path: str, action: str):
    from genlab.api import load
    from genlab.models.latent import LatentModel

    model = load(path)
    if not isinstance(model, LatentModel):
        raise GenlabError(f"a {model.model_name} model cannot {action}")
    return model


def _model_inputs(model, data: str, split: str, limit: int | None = None):
    from genlab.data.model_inputs import model_inputs

    return model_inputs(model, data, split, limit)


def _labels_for(model, y, data: str):
    """Labels to condition on, for conditional models (which need them)."""
    if not model.conditional:
        return None
    if y is None:
        raise GenlabError(f"this {model.model_name} is conditional and '{data}' has no labels")
    return y


def _write_samples(model, samples: torch.Tensor, output: Path) -> None:
    if output.suffix == ".png":
        _require_images(model, "a .png grid")
        from genlab.images import save_image_grid
        from genlab.models.latent import to_unit_range

        save_image_grid(to_unit_range(samples, model.config.value_range), output, columns=int(math.ceil(math.sqrt(len(samples)))))
    else:
        _save_array(output, _to_data_units(model, samples))


def _require_images(model, what: str) -> None:
    if not model.config.is_image or model.config.value_range == "real":
        raise GenlabError(f"this model works on vectors of {model.config.data_shape[0]} features; "
                          f"write .npy or .csv instead of {what}")


def _to_data_units(model, values: torch.Tensor) -> np.ndarray:
    from genlab.data.preprocessing import Preprocessing

    if model.config.preprocessing:
        values = Preprocessing.from_dict(model.config.preprocessing).invert(values)
    return values.float().numpy()


def _save_array(output: Path, array: np.ndarray) -> None:
    from genlab.files import atomic_path

    with atomic_path(output) as scratch:
        if output.suffix == ".csv":
            np.savetxt(scratch, array.reshape(len(array), -1), delimiter=",", fmt="%.6g")
        else:
            with open(scratch, "wb") as handle:
                np.save(handle, array)


def _output_path(text: str, suffixes: tuple[str, ...]) -> Path:
    from genlab.files import check_output_path

    return check_output_path(text, suffixes)


if __name__ == "__main__":
    raise SystemExit(main())
