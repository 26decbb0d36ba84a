"""Samples, reconstructions and codes of a trained model, written to files: what `genlab sample`,
`genlab reconstruct` and `genlab encode` do, callable from Python with the same results.

    model = genlab.load(run)
    sample_to_file(model, run, "sevens.npy", 100, label=7)      # uint8 for 8-bit image data
    reconstruct_to_file(model, run, "recon.png", 32)             # originals above reconstructions
    reconstruct_to_file(model, run, "out.wav", 1, inputs=["in.wav"])  # a model of audio: a clip in, a clip out
    encode_to_file(model, run, "codes.npz", split="test")        # codes and labels
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from genlab.api import run_data_config
from genlab.apps.inputs import read_inputs
from genlab.apps.outputs import check_sample_output, write_codes, write_grid, write_samples
from genlab.bounds import check_seed, check_whole
from genlab.data.model_inputs import model_inputs
from genlab.errors import GenlabError
from genlab.files import check_output_path
from genlab.models.inference import encode_all, run_batched
from genlab.resources import check_fits
from genlab.samplers import draw_samples


def sample_to_file(model, run: str | Path, output: str | Path, count: int, *, seed: int = 0, label: int | str | None = None,
                   sampler: str = "prior", components: int = 10) -> list[Path]:
    """Draw `count` samples (of class `label`, an index or a name, for conditional models) and write them to `output`."""
    check_sample_output(model, output)
    model.require("samples", "generate samples")
    check_whole(count, "the number of samples (-n)", 1, 10**12)
    check_seed(seed, "the seed (--seed)")
    check_fits(count, model.config.data_shape, "samples", "ask for fewer (-n) and draw them in several calls")
    labels = None if label is None else torch.full((count,), model.class_index(label), dtype=torch.long)
    if labels is not None and sampler == "gmm":
        raise GenlabError("the gmm sampler draws from all classes; drop --class")
    if labels is not None:
        model.sample_labels(count, labels=labels)  # checks the class before any work
    samples = draw_samples(model, run, count, sampler=sampler, components=components,
                           generator=torch.Generator().manual_seed(seed), labels=labels)
    return write_samples(model, samples, output, labels=labels)


def data_split(model, run: str | Path, data: str | None, split: str, limit: int | None = None):
    """A split of `data` (default: the run's own data settings) in the model's input space, and its labels."""
    return model_inputs(model, data or run_data_config(run, model), split, limit)


def conditioning_labels(model, y: torch.Tensor | None, data: str | None) -> torch.Tensor | None:
    """Labels to condition on, for conditional models (which need them)."""
    if not model.conditional:
        return None
    if y is None:
        raise GenlabError(f"this {model.model_name} is conditional and '{data or 'the data'}' has no labels")
    return y


def reconstruct_to_file(model, run: str | Path, output: str | Path, count: int, *, data: str | None = None,
                        split: str = "test", inputs: Sequence[str | Path] = ()) -> tuple[int, float]:
    """Reconstruct the first `count` inputs of a split, or the files `inputs` (images, audio clips, arrays);
    write them (a .png shows originals above them, a .wav plays the reconstructions one after another).

    Returns how many were written and their mean squared error in model units.
    """
    check_sample_output(model, output, (".png", ".npy", ".npz", ".csv", ".wav"))
    model.require("codes", "reconstruct")
    if count < 1:
        raise GenlabError(f"the number of inputs must be at least 1 (got {count})")
    if inputs and data is not None:
        raise GenlabError("give input files or --data, not both")
    if inputs:
        if model.conditional:
            raise GenlabError(f"this {model.model_name} is conditional and files carry no labels; "
                              "reconstruct labelled data with --data")
        x, _ = read_inputs(model, inputs)
        x, y = x[:count], None
    else:
        x, y = data_split(model, run, data, split, limit=count)
    reconstructions = run_batched(model.reconstruct, x, conditioning_labels(model, y, data), device=model.device).float()
    if Path(output).suffix.lower() == ".png":
        columns = min(8, len(x))
        rows = [t for r in range(0, len(x), columns) for t in (x[r : r + columns], reconstructions[r : r + columns])]
        write_grid(model, torch.cat(rows), output, columns)
    else:
        write_samples(model, reconstructions, output, labels=y)
    return len(x), float((reconstructions - x).square().mean())


def encode_to_file(model, run: str | Path, output: str | Path, *, data: str | None = None,
                   split: str = "test") -> tuple[int, ...]:
    """The codes of a whole split, written as .npy (codes) or .npz (codes and labels); returns their shape."""
    check_output_path(output, (".npy", ".npz"))
    model.require("codes", "encode")
    x, y = data_split(model, run, data, split)
    codes = encode_all(model, x, conditioning_labels(model, y, data))
    write_codes(output, codes, y)
    return tuple(codes.shape)
