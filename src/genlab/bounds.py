"""The most one request may ask for (seeds, importance samples, resamples, steps), checked before any work.

Each bound is far above what a real use needs and far below what exhausts a machine or runs
for days; the command line checks the same bounds when it parses its flags.
"""

from __future__ import annotations

import operator

from genlab.errors import GenlabError

MAX_SEED = 2**53 - 1  # the largest whole number JSON and YAML readers everywhere hold exactly
MAX_EVAL_K = 100_000  # importance samples per example for the NLL (published tables use 5,000)
MAX_BOOTSTRAP = 100_000  # bootstrap resamples for an interval
MAX_PICTURE_STEPS = 100  # images per row of a latent picture (a grid has the square of it)
MAX_INPAINT_STEPS = 100_000  # optimisation steps on the codes when inpainting


def check_whole(value, name: str, low: int, high: int) -> int:
    """`value` as an int when it is a whole number from `low` to `high`; a one-line error naming `name` if not."""
    try:
        number = operator.index(value)
    except TypeError:
        raise GenlabError(f"{name} must be a whole number (got {str(value)[:40]!r})") from None
    if isinstance(value, bool) or not low <= number <= high:
        raise GenlabError(f"{name} must be from {low:,} to {high:,} (got {str(value)[:40]})")
    return number


def check_seed(seed, name: str = "the seed") -> int:
    return check_whole(seed, name, 0, MAX_SEED)
