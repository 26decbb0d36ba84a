"""genlab train."""

from __future__ import annotations

from genlab.bounds import MAX_SEED
from genlab.commands.common import add_device, add_settings, lazy, progress, whole, with_examples
from genlab.errors import GenlabError

api = lazy("genlab.api")


def register(commands, common) -> None:
    parser = commands.add_parser(
        "train", parents=[common], help="train a model and write a run directory",
        description="Train a model; writes config.yaml, model/, checkpoints/, metrics.jsonl, samples/ in the run directory.",
        **with_examples("genlab train vae --data digits --epochs 20",
                        "genlab train dae --data mnist --set model.noise=masking --set train.lr=3e-4",
                        "genlab train --config runs/vae-digits-20260101-120000/config.yaml",
                        "genlab train --resume runs/vae-digits-20260101-120000 --epochs 40"))
    parser.add_argument("model", nargs="?", help="model name (genlab models lists them); optional with --config or --resume")
    parser.add_argument("--data", help="named dataset, .npy/.npz/.csv file, or image folder (default: digits)")
    parser.add_argument("--epochs", type=whole(1, 10**6), help="number of epochs (default 10)")
    parser.add_argument("--run-dir", help="where to write the run (default runs/MODEL-DATA-DATE-TIME)")
    parser.add_argument("--seed", type=whole(0, MAX_SEED), help="random seed of the run (default 0; the same as --set seed=N)")
    add_settings(parser)
    add_device(parser, default="auto")  # a GPU when there is one
    parser.add_argument("--resume", nargs="?", const=True, metavar="RUN_DIR",
                        help="continue a run from its last checkpoint (RUN_DIR, or the --run-dir given)")
    parser.set_defaults(handler=run)


def run(args) -> None:
    overrides = list(args.overrides)
    if args.device != "auto":
        overrides.append(f"train.device={args.device}")
    if args.resume is not None:
        if args.model or args.data or args.config or args.seed is not None:
            raise GenlabError("--resume continues a run as configured; give only the run directory (and train.* changes)")
        run_dir = args.run_dir if args.resume is True else args.resume
        api.train(run_dir=run_dir, resume=True, epochs=args.epochs, overrides=overrides, progress=progress(args))
        return
    if args.model is None and args.config is None:
        raise GenlabError("name a model (genlab train vae --data digits) or give --config FILE.yaml; `genlab models` lists models")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    api.train(args.model, args.data, epochs=args.epochs, run_dir=args.run_dir, config=args.config,
              overrides=overrides, progress=progress(args))
