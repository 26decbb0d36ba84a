"""The application commands of `genlab`: compress, decompress, denoise, inpaint, detect, latent.

Every command checks its inputs and output path before doing any work, so that a bad
argument ends with one line and no file written.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import torch

from genlab.apps.anomaly import SCORES
from genlab.errors import GenlabError
from genlab.files import check_output_path

INPUTS_HELP = "image files, folders of images, or .npy/.npz/.csv arrays (one sample per row)"
OUTPUT_HELP = "a folder (one PNG per input), a .png (one input), or .npy/.csv (values in data units)"


def add_app_commands(commands) -> None:
    compress = commands.add_parser(
        "compress", help="compress images into one file with an autoencoder's quantised codes",
        description="Quantise each input's code and entropy-code them all into one file (format: genlab.apps.compress). "
                    "--step is the quality knob: smaller steps give larger files and better images.",
        epilog="example:\n  genlab compress RUN digits/*.png -o digits.glz --step 0.1", formatter_class=argparse.RawDescriptionHelpFormatter)
    compress.add_argument("run", help="run directory or model folder of an ae, vae, dae or sparse-ae")
    compress.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUTS_HELP)
    compress.add_argument("-o", "--output", required=True, help="the compressed file to write")
    compress.add_argument("--step", type=float, default=0.1,
                          help="quantisation step in code standard deviations (a linear model's: their root mean "
                               "square); smaller gives larger, more faithful files (default 0.1)")
    compress.set_defaults(handler=cmd_compress)

    decompress = commands.add_parser("decompress", help="decode a file written by genlab compress")
    decompress.add_argument("file", help="the compressed file")
    decompress.add_argument("-o", "--output", required=True, help="a folder for PNG images, or a .npy file")
    decompress.add_argument("--run", help="the run it was compressed with (default: the location stored in the file)")
    decompress.set_defaults(handler=cmd_decompress)

    denoise = commands.add_parser("denoise", help="remove noise with a denoising autoencoder",
                                  epilog="example:\n  genlab train dae --data mnist --set model.noise=gaussian --set model.noise_level=0.3\n"
                                         "  genlab denoise RUN noisy/ -o clean/", formatter_class=argparse.RawDescriptionHelpFormatter)
    denoise.add_argument("run", help="run directory or model folder (a dae trained for the noise at hand)")
    denoise.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUTS_HELP)
    denoise.add_argument("-o", "--output", required=True, help=OUTPUT_HELP)
    denoise.set_defaults(handler=cmd_denoise)

    inpaint = commands.add_parser("inpaint", help="fill missing pixels, keeping the known ones",
                                  description="Fit the code of each input to its known pixels and fill the holes from "
                                              "the decoding; known pixels are left exactly as they were.")
    inpaint.add_argument("run", help="run directory or model folder of an ae or vae")
    inpaint.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUTS_HELP)
    inpaint.add_argument("--mask", required=True,
                         help="image (white = missing) or 0/1 array (1 = missing): one for all inputs or one per input")
    inpaint.add_argument("-o", "--output", required=True, help=OUTPUT_HELP)
    inpaint.add_argument("--steps", type=int, default=300, help="optimisation steps on the codes (default 300)")
    inpaint.set_defaults(handler=cmd_inpaint)

    detect = commands.add_parser("detect", help="anomaly detection: fit a detector, score new records")
    actions = detect.add_subparsers(title="detect commands", metavar="ACTION")
    fit = actions.add_parser("fit", help="train a model on normal data and set the anomaly threshold",
                             epilog="example:\n  genlab detect fit --data transactions.csv --run-dir runs/detector --contamination 0.02",
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    fit.add_argument("--data", required=True, help="named dataset, .npy/.npz/.csv file or image folder of normal records")
    fit.add_argument("--run-dir", required=True, help="where to write the run and its detector.json")
    fit.add_argument("--model", default="vae", choices=["ae", "dae", "sparse-ae", "vae"], help="(default vae)")
    fit.add_argument("--score", default="auto", choices=list(SCORES),
                     help="anomaly score (default auto: nll for a vae, reconstruction otherwise)")
    fit.add_argument("--contamination", type=float, default=0.1, help="expected share of anomalies in the data (default 0.1)")
    fit.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    fit.add_argument("--latent-dim", type=int, default=8, help="code dimensions (default 8)")
    fit.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="any training setting, as in genlab train (repeatable)")
    fit.add_argument("--quiet", action="store_true")
    fit.set_defaults(handler=cmd_detect_fit)
    score = actions.add_parser("score", help="score records with a fitted detector: one row per record")
    score.add_argument("run", help="run directory written by genlab detect fit")
    score.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUTS_HELP)
    score.add_argument("-o", "--output", required=True, help="CSV with columns name, score, anomaly (1 = anomaly)")
    score.set_defaults(handler=cmd_detect_score)
    detect.set_defaults(handler=lambda _: detect.print_help())

    latent = commands.add_parser("latent", help="pictures of the latent space: scatter, grid, interpolation, traversal")
    latent.add_argument("run", help="run directory or model folder")
    latent.add_argument("--plot", required=True, choices=["scatter", "grid", "interpolate", "traverse"])
    latent.add_argument("-o", "--output", required=True, help="the .png to write")
    latent.add_argument("--data", help="dataset whose codes are shown (default: the run's own)")
    latent.add_argument("--split", default="test", choices=["train", "val", "test"])
    latent.add_argument("--count", type=int, default=5000, help="scatter: points shown (default 5000)")
    latent.add_argument("--method", default="pca", choices=["pca", "tsne"], help="scatter: projection of codes over 2-D")
    latent.add_argument("--index", type=int, nargs="+", default=[0, 1],
                        help="interpolate: the two inputs (default 0 1); traverse: the input (default 0)")
    latent.add_argument("--steps", type=int, default=10, help="images per row (grid: per side) (default 10)")
    latent.set_defaults(handler=cmd_latent)


# ---- compression -----------------------------------------------------------------------


def cmd_compress(args) -> None:
    from genlab.apps.compress import check_compressible, compress
    from genlab.apps.inputs import read_samples, to_model_space
    from genlab.files import atomic_path

    output = Path(args.output)
    _check_parent(output)
    model = _load(args.run)
    check_compressible(model)
    stored, _ = read_samples(args.inputs, _channels(model))
    blob = compress(model, to_model_space(model, stored), args.step, model_hint=str(Path(args.run).resolve()))
    with atomic_path(output) as scratch:
        scratch.write_bytes(blob)
    print(f"compressed {len(stored)} samples into {output}: {len(blob):,} bytes ({len(blob) / len(stored):.1f} per sample)")


def cmd_decompress(args) -> None:
    from genlab.apps.compress import decompress, unpack
    from genlab.apps.inputs import write_outputs

    check_output_path(args.output, ("", ".npy"))
    path = Path(args.file)
    if not path.is_file():
        raise GenlabError(f"{path}: no such file")
    blob = path.read_bytes()
    run = args.run or unpack(blob).model_hint
    if not run or not Path(run).exists():
        raise GenlabError(f"the model this file was made with ({run or 'unrecorded'}) is not there; give it with --run RUN")
    model = _load(run)
    decoded = decompress(model, blob)
    names = [f"{path.stem}_{i:05d}" for i in range(len(decoded))]
    written = write_outputs(args.output, model, decoded, names)
    print(f"decoded {len(decoded)} samples into {args.output if len(written) > 1 else written[0]}")


# ---- denoising and inpainting ------------------------------------------------------------


def cmd_denoise(args) -> None:
    from genlab.apps.denoise import denoise
    from genlab.apps.inputs import read_samples, to_model_space, write_outputs

    check_output_path(args.output, ("", ".png", ".npy", ".csv"))
    model = _load(args.run)
    stored, names = read_samples(args.inputs, _channels(model))
    cleaned = denoise(model, to_model_space(model, stored))
    write_outputs(args.output, model, cleaned, names)
    print(f"denoised {len(stored)} samples into {args.output}")


def cmd_inpaint(args) -> None:
    from genlab.apps.inpaint import inpaint
    from genlab.apps.inputs import read_mask, read_samples, to_model_space, write_outputs

    check_output_path(args.output, ("", ".png", ".npy", ".csv"))
    model = _load(args.run)
    stored, names = read_samples(args.inputs, _channels(model))
    x = to_model_space(model, stored)
    missing = read_mask(args.mask, tuple(model.config.data_shape), len(x))
    filled = inpaint(model, x, missing, steps=args.steps)
    write_outputs(args.output, model, filled, names)
    print(f"filled {int(missing.sum()):,} missing values in {len(x)} samples; wrote {args.output}")


# ---- anomaly detection -------------------------------------------------------------------


def cmd_detect_fit(args) -> None:
    import genlab
    from genlab.apps.anomaly import AnomalyDetector
    from genlab.data.model_inputs import model_inputs

    detector = AnomalyDetector(model=args.model, contamination=args.contamination, score=args.score,
                               latent_dim=args.latent_dim, epochs=args.epochs)
    detector._check_settings()
    if Path(args.run_dir).exists():
        raise GenlabError(f"run directory {args.run_dir} already exists; choose a new one")
    overrides = [f"model.latent_dim={args.latent_dim}", f"train.epochs={args.epochs}"]
    if not any(o.startswith("train.batch_size=") for o in args.overrides):
        from genlab.config import DataConfig, build_dataclass
        from genlab.data.dataset import load_dataset

        # small tables: whole batches must fit in the training split
        training = len(load_dataset(build_dataclass(DataConfig, {"name": args.data}, "data")).train)
        overrides.append(f"train.batch_size={max(1, min(128, training))}")
    overrides += args.overrides
    model = genlab.train(args.model, args.data, run_dir=args.run_dir, overrides=overrides, progress=not args.quiet)
    inputs, _ = model_inputs(model, model.config.dataset, "train")
    detector.calibrate_on_inputs(model, inputs)
    path = detector.save(args.run_dir)
    print(f"detector in {path}: score {detector.score_}, threshold {detector.threshold_:.6g} "
          f"({detector.labels_.mean():.1%} of the {len(inputs):,} training records above it)")


def cmd_detect_score(args) -> None:
    from genlab.apps.anomaly import AnomalyDetector
    from genlab.apps.inputs import read_samples
    from genlab.files import atomic_path

    output = check_output_path(args.output, (".csv",))
    detector = AnomalyDetector.load(args.run)
    stored, names = read_samples(args.inputs, _channels(detector.model_))
    scores = detector.decision_function(stored)
    flags = (scores > detector.threshold_).astype(int)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["name", "score", "anomaly"])
    writer.writerows(zip(names, (f"{s:.6g}" for s in scores), flags.tolist()))
    with atomic_path(output) as scratch:
        scratch.write_text(text.getvalue())
    print(f"scored {len(scores)} records into {output}: {int(flags.sum())} above the threshold {detector.threshold_:.6g}")


# ---- latent maps -------------------------------------------------------------------------


def cmd_latent(args) -> None:
    from genlab.apps import latent
    from genlab.data.model_inputs import model_inputs, run_data_config
    from genlab.models.latent import LatentModel

    output = check_output_path(args.output, (".png",))
    if args.steps < 2 or args.count < 2:
        raise GenlabError("--steps and --count must be at least 2")
    model = _load(args.run)
    if not isinstance(model, LatentModel) or model.conditional:
        raise GenlabError(f"a {model.model_name} model has no code space to map; use an autoencoder or VAE")
    data = args.data or run_data_config(Path(args.run), model)
    x, y = model_inputs(model, data, args.split, limit=args.count if args.plot == "scatter" else MAX_CODES)
    if args.plot == "scatter":
        latent.scatter_plot(model, x, y, output, method=args.method)
    else:
        codes = latent.encode_all(model, x)
        if args.plot == "grid":
            chosen, columns = latent.grid_codes(model, codes, steps=args.steps), args.steps
        elif args.plot == "interpolate":
            first, second = _indices(args.index, 2, len(x))
            chosen, columns = latent.interpolation_codes(codes[first], codes[second], args.steps), args.steps
        else:
            (first,) = _indices(args.index[:1], 1, len(x))
            std = codes.std(0)
            dims = torch.argsort(std, descending=True)[: min(10, model.config.latent_dim)].sort().values.tolist()
            chosen, columns = latent.traversal_codes(codes[first], std, dims, args.steps), args.steps
        latent.decode_grid(model, chosen, output, columns)
    print(f"wrote {args.plot} of {model.model_name} codes to {output}")


# ---- helpers -----------------------------------------------------------------------------


MAX_CODES = 5000  # codes encoded for grids, interpolations and traversals


def _load(path: str):
    from genlab.api import load

    return load(path)


def _channels(model) -> int | None:
    return model.config.data_shape[0] if model.config.is_image else None


def _check_parent(path: Path) -> None:
    if path.parent != Path("") and not path.parent.is_dir():
        raise GenlabError(f"output folder '{path.parent}' does not exist")


def _indices(values: list[int], count: int, available: int) -> list[int]:
    if len(values) < count:
        raise GenlabError(f"--index needs {count} numbers (got {len(values)})")
    chosen = values[:count]
    if min(chosen) < 0 or max(chosen) >= available:
        raise GenlabError(f"--index must be between 0 and {available - 1} (got {chosen})")
    return chosen

