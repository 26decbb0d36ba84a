"""Pictures of a model's latent space.

- scatter: codes of labelled data, coloured by class; codes with more than two
  dimensions are projected by PCA (fast, linear) or t-SNE (neighbourhoods kept);
- grid: decodings over a square of the latent plane: the code itself when it is 2-D,
  else the plane of the codes' two principal directions through their mean;
- interpolate: decodings along the straight line between two inputs' codes;
- traverse: one row per code dimension, that dimension swept over +-`span` standard
  deviations of the codes while the others stay at an input's code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from genlab.apps.generation import data_split
from genlab.apps.inputs import read_inputs
from genlab.apps.outputs import write_clips
from genlab.bounds import MAX_PICTURE_STEPS, check_whole
from genlab.errors import GenlabError
from genlab.files import atomic_path, check_output_path
from genlab.images import save_image_grid
from genlab.models.inference import encode_all, run_batched
from genlab.models.latent import to_unit_range

PLOTS = ("scatter", "grid", "interpolate", "traverse")


def project_2d(codes: np.ndarray, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, str]:
    """(N, D) codes -> (N, 2) points and the axis name; 2-D codes are kept as they are."""
    if codes.shape[1] == 1:
        return np.column_stack([codes[:, 0], np.zeros(len(codes))]), "z"
    if codes.shape[1] == 2:
        return codes, "z"
    if method == "pca":
        # scikit-learn and matplotlib take a second to import: only for the plots that use them
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(codes), "PC"
    if method == "tsne":
        # as above
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, (len(codes) - 1) // 3)))
        return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(codes), "t-SNE "
    raise GenlabError(f"unknown projection {method!r}; use pca or tsne")


def scatter_plot(model, x: torch.Tensor, labels: torch.Tensor | None, path: str | Path, method: str = "pca",
                 class_names: list[str] | None = None) -> Path:
    """Codes of x as a 2-D scatter coloured by label, written to a PNG."""
    # as above; the Figure API leaves pyplot's global state (and the process's backend) alone
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    points, axis = project_2d(encode_all(model, x), method)
    figure = Figure(figsize=(6.4, 5.6), dpi=110)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.6, color="tab:blue", linewidths=0)
    else:
        labels = np.asarray(labels)
        colours = colormaps["tab10" if labels.max() < 10 else "tab20"]
        for value in np.unique(labels):
            chosen = labels == value
            name = class_names[value] if class_names and value < len(class_names) else str(value)
            ax.scatter(points[chosen, 0], points[chosen, 1], s=3, alpha=0.6, color=colours(int(value) % colours.N),
                       label=name, linewidths=0)
        ax.legend(markerscale=4, fontsize=8, loc="best", frameon=False)
    ax.set_xlabel(f"{axis}1")
    ax.set_ylabel(f"{axis}2")
    ax.set_title(f"{model.model_name} codes ({model.config.latent_dim}-d, {len(points):,} points)")
    figure.tight_layout()
    return _save_figure(figure, path)


@torch.no_grad()
def grid_codes(model, reference_codes: torch.Tensor, steps: int = 15, span: float = 2.5) -> torch.Tensor:
    """(steps*steps, D) codes on a square of the latent plane, +-span standard deviations wide."""
    mean = reference_codes.mean(0)
    offsets = torch.linspace(-span, span, steps)
    if model.config.latent_dim <= 2:
        std = reference_codes.std(0)
        axes = torch.diag(std)
    else:
        centred = reference_codes - mean
        _, singular, directions = torch.linalg.svd(centred, full_matrices=False)
        axes = directions[:2] * (singular[:2] / (len(centred) - 1) ** 0.5).unsqueeze(1)  # (2, D), one std long
    if model.config.latent_dim == 1:
        return mean + offsets.unsqueeze(1) * axes[0]
    rows, columns = torch.meshgrid(offsets.flip(0), offsets, indexing="ij")  # up = second axis positive
    return mean + columns.reshape(-1, 1) * axes[0] + rows.reshape(-1, 1) * axes[1]


@torch.no_grad()
def interpolation_codes(code_a: torch.Tensor, code_b: torch.Tensor, steps: int = 10) -> torch.Tensor:
    weights = torch.linspace(0, 1, steps).unsqueeze(1)
    return (1 - weights) * code_a + weights * code_b


@torch.no_grad()
def traversal_codes(code: torch.Tensor, std: torch.Tensor, dims: list[int], steps: int = 9, span: float = 3.0) -> torch.Tensor:
    """(len(dims)*steps, D): row d sweeps dimension dims[d] around `code`."""
    offsets = torch.linspace(-span, span, steps)
    rows = []
    for dim in dims:
        swept = code.repeat(steps, 1)
        swept[:, dim] = code[dim] + offsets * std[dim]
        rows.append(swept)
    return torch.cat(rows)


@torch.no_grad()
def decode_grid(model, codes: torch.Tensor, path: str | Path, columns: int) -> Path:
    """Decode the codes; write a grid of `columns` pictures a row, or, to a .wav, the clips one after another."""
    if not model.capabilities.images:
        raise GenlabError("this model works on vectors; decoded pictures need an image model (try --plot scatter)")
    images = run_batched(model.decode, codes, device=model.device).float()
    if Path(path).suffix.lower() == ".wav":
        return write_clips(model, images, Path(path))
    return save_image_grid(to_unit_range(images, model.config.value_range), path, columns=columns)


def _save_figure(figure, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as scratch:
        figure.savefig(scratch, format="png")
    return path


MAX_CODES = 5000  # codes encoded for grids, interpolations and traversals
TRAVERSED_DIMENSIONS = 10  # traversal rows: the dimensions with the largest spread


def latent_picture(model, run: str | Path, plot: str, output: str | Path, *, data: str | None = None,
                   split: str = "test", count: int = 5000, method: str = "pca", index: list[int] = (0, 1),
                   steps: int = 10, inputs: Sequence[str | Path] = ()) -> Path:
    """One picture of the code space (scatter, grid, interpolate, traverse) of a split's inputs, or of the files
    `inputs`, written to `output`: a .png, or for a model of audio a .wav of the decoded clips (not scatter)."""
    output = check_output_path(output, (".png", ".wav"))
    if plot not in PLOTS:
        raise GenlabError(f"unknown plot '{plot}' (choose from {', '.join(PLOTS)})")
    if output.suffix.lower() == ".wav" and (plot == "scatter" or not model.config.audio):
        raise GenlabError(f"output '{output}': a .wav is for the decoded clips of a model of audio (grid, interpolate, "
                          "traverse); write a .png")
    check_whole(steps, "the number of steps (--steps)", 2, MAX_PICTURE_STEPS)
    check_whole(count, "the number of points (-n)", 2, 10**12)
    model.require("label_free_codes", "map its codes")
    if inputs and data is not None:
        raise GenlabError("give input files or --data, not both")
    if inputs:
        x, _ = read_inputs(model, inputs)
        y = None
    else:
        x, y = data_split(model, run, data, split, limit=count if plot == "scatter" else MAX_CODES)
    if plot == "scatter":
        return scatter_plot(model, x, y, output, method=method)
    codes = encode_all(model, x)
    if plot == "grid":
        chosen = grid_codes(model, codes, steps=steps)
    elif plot == "interpolate":
        first, second = _indices(index, 2, len(x))
        chosen = interpolation_codes(codes[first], codes[second], steps)
    else:
        (first,) = _indices(list(index)[:1], 1, len(x))
        std = codes.std(0)
        dims = torch.argsort(std, descending=True)[: min(TRAVERSED_DIMENSIONS, model.config.latent_dim)].sort().values
        chosen = traversal_codes(codes[first], std, dims.tolist(), steps)
    return decode_grid(model, chosen, output, steps)


def _indices(values: list[int], count: int, available: int) -> list[int]:
    if len(values) < count:
        raise GenlabError(f"--index needs {count} numbers (got {len(values)})")
    chosen = list(values)[:count]
    if min(chosen) < 0 or max(chosen) >= available:
        raise GenlabError(f"--index must be between 0 and {available - 1} (got {chosen})")
    return chosen
