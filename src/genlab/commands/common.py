"""What every command module shares: lazy library modules and the flags that mean the same everywhere."""

from __future__ import annotations

import argparse
import importlib

from genlab.bounds import MAX_SEED

INPUTS_HELP = "image files, folders of images, audio clips (.wav/.flac/.ogg) or folders of them, or .npy/.npz/.csv arrays (one sample per row)"
OUTPUT_HELP = ("a folder (one PNG per input; one WAV for a model of audio), a .png, .npy/.npz/.csv (values in the data's "
               "units), or .wav (a model of audio)")


class lazy:  # noqa: N801  (used like a module: `api = lazy("genlab.api")`, then `api.load(...)`)
    """Module `name`, imported on the first attribute access.

    The command modules bind the library this way, so that building the parser (and so
    `--help` and parse errors) imports neither torch nor the models. Nothing enters
    sys.modules before the real import does.
    """

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        return getattr(importlib.import_module(self._name), attribute)


def whole(low: int, high: int):
    """An argparse type: a whole number from `low` to `high`; others get one line and exit 2 before any work."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got '{text[:40]}'") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:,} to {high:,} (got {text[:40]})")
        return value
    parse.__name__ = "whole number"  # what argparse names in its own messages
    return parse


def with_examples(*lines: str) -> dict:
    """add_parser keywords for an epilog of example command lines, kept as written."""
    return {"epilog": "examples:\n" + "\n".join(f"  {line}" for line in lines),
            "formatter_class": argparse.RawDescriptionHelpFormatter}


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars or information messages")
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="also debugging details")


def add_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUTS_HELP)


def add_device(parser: argparse.ArgumentParser, default: str = "auto") -> None:
    parser.add_argument("--device", default=default,
                        help=f"where the model runs: auto (a GPU when there is one), cpu, cuda, cuda:N, mps (default {default})")


def add_seed(parser: argparse.ArgumentParser, default: int = 0) -> None:
    parser.add_argument("--seed", type=whole(0, MAX_SEED), default=default, help=f"random seed (default {default})")


def add_output(parser: argparse.ArgumentParser, help: str, default: str | None = None) -> None:
    if default is None:
        parser.add_argument("-o", "--output", required=True, help=help)
    else:
        parser.add_argument("-o", "--output", default=default, help=f"{help} (default {default})")


def add_num_samples(parser: argparse.ArgumentParser, default: int, what: str = "samples") -> None:
    # --samples and --count: the names these flags had before, kept working
    parser.add_argument("-n", "--num-samples", "--samples", "--count", dest="num_samples", type=whole(1, 10**12), default=default,
                        help=f"how many {what} (default {default})")


def add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="dataset name or path, shaped like the training data (default: the run's own)")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"], help="(default test)")


def add_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML file with model/data/train/seed sections, such as a run's config.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. --set train.lr=3e-4 --set model.latent_dim=8 (repeatable)")


def progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False)
