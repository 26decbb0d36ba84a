"""The `genlab` command: builds the parser from genlab.commands and dispatches to it.

    genlab train vae --data digits --epochs 20
    genlab sample runs/vae-digits-... -n 64 -o grid.png
    genlab data fetch mnist

Problems with the input are printed as one line starting with "error:" and exit with
status 2 (1 when training diverged); no output file is left half-written. Building the
parser imports no torch, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys

from genlab import log
from genlab.commands import catalog, codec, detect, evaluate, generate, latent, restore, runs, train
from genlab.commands.common import add_verbosity
from genlab.errors import GenlabError
from genlab.version import __version__

COMMAND_MODULES = (train, generate, evaluate, runs, codec, restore, detect, latent, catalog)
EXAMPLES = """examples:
  genlab train vae --data digits --epochs 20
  genlab report runs/vae-digits-20260101-120000
  genlab serve runs/vae-digits-20260101-120000
  genlab sample RUN -n 64 -o samples.png
  genlab eval RUN -o results.json
  genlab compress RUN images/ -o images.glz && genlab decompress images.glz -o decoded/
  genlab detect fit --data records.csv --run-dir runs/detector && genlab detect score runs/detector new.csv -o scores.csv

`genlab COMMAND --help` describes each command and its flags.
"""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    add_verbosity(common)
    parser = argparse.ArgumentParser(
        prog="genlab", parents=[common], epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train, sample, evaluate and use autoencoders, VAEs, GANs and classifiers.")
    parser.add_argument("--version", action="version", version=f"genlab {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(commands, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    log.configure(-1 if getattr(args, "quiet", False) else 1 if getattr(args, "verbose", False) else 0)
    # a command-line program may set process-wide numerics; `import genlab` never does
    importlib.import_module("genlab.training.numerics").flush_process_denormals()
    try:
        args.handler(args)
    except GenlabError as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # the environment refused: a permission, a full disk, a name too long, a folder in the way
        print(f"error: {os_error_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def os_error_line(error: OSError) -> str:
    """'cannot write runs/x/eval.json: Permission denied; check the path and its permissions' (one line)."""
    where = " and ".join(repr(str(name))[1:-1][:200] for name in (error.filename, error.filename2) if name)
    reason = error.strerror or str(error) or type(error).__name__
    remedy = ("free some space and retry" if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
              else "check the path and its permissions")
    return " ".join(f"{reason}{': ' + where if where else ''}; {remedy}".split())


if __name__ == "__main__":
    raise SystemExit(main())
