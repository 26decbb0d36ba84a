"""The anomaly score of an autoencoder ensemble (genlab.models.ensemble): genlab's default detector.

Per member m, two robust z-scores, averaged over the members and then weighed together:
- reconstruction: the mean over features of each feature's squared residual divided by that
  feature's mean squared residual on the training data (so a feature the member reconstructs
  well everywhere counts more when it is missed);
- code neighbourhood: the mean distance from the record's code to its 2nd..(k+1)th nearest
  codes among up to REFERENCE_ROWS training records, IMAGE_REFERENCE_ROWS for convolutional
  members (the nearest is skipped for every record alike, so a training record does not find
  itself at distance 0 and a new one is treated the same way): a record far from every training
  code is unusual even when reconstructed well.
Each is centred on its median over the training records and divided by its median absolute
deviation (a robust z-score), which puts the members and the two parts on one scale. Each
member's reconstruction part weighs its `reconstruction_weight` and its distance the rest, and
the members are averaged: half each for MLP members (chosen on the development half of the
ADBench tables); for convolutional members, chosen on a development split of the MNIST and
Fashion-MNIST training images (benchmarks/anomaly_image_weight.py), the upright members' code
distance alone (their codes place an image among its kind better than its pixels' residuals do)
and 0.7 reconstruction for the members that restore turned images (a turned-looking or foreign
image is restored badly), or IMAGE_RECONSTRUCTION_WEIGHT when no member restores.

Everything fitted here depends on the training inputs and `random_state` only (the reference
records are a seeded draw), and a record's score on the record alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genlab.errors import GenlabError

REFERENCE_ROWS = 2048  # training codes kept per member for the neighbourhood distance
IMAGE_REFERENCE_ROWS = 8192  # the same for convolutional members (a class of images has thousands)
NEIGHBOURS = 5
BLOCK = 1024  # records per step of the residual sums
RESIDUAL_FLOOR = 1e-6  # scaled units: a feature reconstructed perfectly in training does not divide by zero
FIELDS = ("residual_variance", "reference_codes", "error_centre", "error_spread", "distance_centre", "distance_spread")
TABLE_RECONSTRUCTION_WEIGHT = 0.5
IMAGE_RECONSTRUCTION_WEIGHT = 0.1  # convolutional members, none of them restoring turned images (model.rotations 1)
# upright and restoring convolutional members side by side: the upright ones' codes alone, the restoring ones' both
UPRIGHT_RECONSTRUCTION_WEIGHT, RESTORING_RECONSTRUCTION_WEIGHT = 0.0, 0.7


@dataclass
class EnsembleScore:
    residual_variance: torch.Tensor  # (M, D): each member's mean squared training residual per feature (images: all)
    reference_codes: torch.Tensor  # (M, R, code): the reference records' codes
    error_centre: torch.Tensor  # (M,): medians and median absolute deviations over the training records
    error_spread: torch.Tensor
    distance_centre: torch.Tensor
    distance_spread: torch.Tensor
    reconstruction_weight: torch.Tensor  # (M,): each member's reconstruction part's weight; the rest is its distance's

    @classmethod
    @torch.no_grad()
    def fit(cls, model, inputs: torch.Tensor, random_state: int, run) -> EnsembleScore:
        """Fit on the training inputs; `run(fn, inputs)` maps fn over fixed-size chunks (AnomalyDetector's)."""
        total = 0.0
        for start in range(0, len(inputs), BLOCK):  # summed block by block: (N, M, D) at once may not fit
            block = run(lambda x: member_squared_residuals(model, x).permute(1, 0, 2), inputs[start:start + BLOCK])
            total = total + block.double().sum(0)
        variance = (total / len(inputs)).float()  # (M, D)
        if model.one_unit:  # pixels are weighed alike: each member's mean over them
            variance = variance.mean(1, keepdim=True).expand_as(variance).contiguous()
        variance = variance + RESIDUAL_FLOOR
        generator = torch.Generator().manual_seed(random_state)
        chosen = torch.randperm(len(inputs), generator=generator)[:reference_rows(model)].sort().values
        codes = model.members_forward(model.scaled(inputs[chosen].to(model.device)))[0].cpu()
        members = model.config.members
        partial = cls(variance, codes, *[torch.zeros(members)] * 2, *[torch.ones(members)] * 2, member_weights(model))
        errors, distances = run(lambda x: torch.stack(partial.parts(model, x), 2), inputs).unbind(2)  # (N, M) each
        partial.error_centre, partial.error_spread = robust_centre(errors)
        partial.distance_centre, partial.distance_spread = robust_centre(distances)
        return partial

    def parts(self, model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per record and member, (B, M) each: the normalised reconstruction error and the code distance."""
        ratios, distances = self._residuals_and_distances(model, x)
        return ratios.mean(-1).T, distances.T

    def scores(self, model, x: torch.Tensor) -> torch.Tensor:
        """Anomaly scores (B,) in float64: higher = more anomalous."""
        return self._combined(*self.parts(model, x))

    def terms(self, model, x: torch.Tensor) -> torch.Tensor:
        """(B, D) parts summing to scores(). The reconstruction half splits exactly by feature: each feature's
        residual ratio less the members' typical one, so a feature reconstructed worse than usual adds and a
        better one takes away. The code-distance half, which no feature owns, goes to the features that add, in
        proportion to what they add, when it raises the score; otherwise (or when none adds) evenly."""
        ratios, distances = self._residuals_and_distances(model, x)
        scores = self._combined(ratios.mean(-1).T, distances.T)  # as scores() computes them, to the last bit
        ratios = ratios.double()  # (M, B, D)
        width = ratios.shape[-1]
        device = ratios.device
        centre = self.error_centre.to(device, torch.float64)[:, None, None]
        spread = self.error_spread.to(device, torch.float64)[:, None, None]
        weight = self.reconstruction_weight.to(device, torch.float64)[:, None, None]
        features = (weight * (ratios - centre) / (width * spread)).mean(0)  # (B, D): the reconstruction's part
        rest = scores - features.sum(1)  # the code distance's part
        raising = features.clamp(min=0)
        total = raising.sum(1, keepdim=True)
        weights = torch.where((rest[:, None] > 0) & (total > 0), raising / total.clamp(min=1e-300),
                              torch.full_like(features, 1.0 / width))
        return features + rest[:, None] * weights

    def _residuals_and_distances(self, model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(M, B, D) squared residuals over the training ones per feature, and (M, B) code distances."""
        u = model.scaled(x.to(model.device))
        codes, reconstructions = model.members_forward(u)
        ratios = (reconstructions - u).square() / self.residual_variance.to(u.device)[:, None]
        reference = self.reference_codes.to(u.device)
        neighbours = min(NEIGHBOURS, reference.shape[1] - 1)
        gaps = torch.cdist(codes, reference)  # (M, B, R)
        return ratios, gaps.topk(neighbours + 1, dim=-1, largest=False).values[..., 1:].mean(-1)

    def _combined(self, errors: torch.Tensor, distances: torch.Tensor) -> torch.Tensor:
        """(B, M) errors and distances -> (B,) scores: the members' mean robust z-scores of the two, weighed."""
        errors, distances = errors.double(), distances.double()
        device = errors.device
        errors = (errors - self.error_centre.to(device, torch.float64)) / self.error_spread.to(device, torch.float64)
        distances = (distances - self.distance_centre.to(device, torch.float64)) / self.distance_spread.to(device, torch.float64)
        weight = self.reconstruction_weight.to(device, torch.float64)
        return (weight * errors).mean(1) + ((1 - weight) * distances).mean(1)

    def tensors(self) -> dict[str, torch.Tensor]:
        tensors = {name: getattr(self, name).float().contiguous() for name in FIELDS}
        return tensors | {"reconstruction_weight": self.reconstruction_weight.double().contiguous()}

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], model) -> EnsembleScore:
        """From detector.safetensors, each tensor's shape checked against the model (a ValueError names the first
        that does not fit). A file without reconstruction_weight (saved before it was one) weighs the parts alike,
        and one weight (saved before members had their own) is every member's."""
        members, width, code = model.config.members, model.centre.numel(), model.config.latent_dim
        expected = {"residual_variance": (members, width), "error_centre": (members,), "error_spread": (members,),
                    "distance_centre": (members,), "distance_spread": (members,)}
        for name in FIELDS:
            if name not in tensors:
                raise GenlabError(f"no {name}")
            value = tensors[name]
            shape = tuple(value.shape)
            if name == "reference_codes":
                rows = reference_rows(model)
                if len(shape) != 3 or shape[0] != members or shape[2] != code or not 2 <= shape[1] <= rows:
                    raise GenlabError(f"reference_codes has shape {shape}, not ({members}, 2..{rows}, {code})")
            elif shape != expected[name]:
                raise GenlabError(f"{name} has shape {shape}, not {expected[name]}")
            if not torch.isfinite(value).all():
                raise GenlabError(f"{name} holds a value that is not a finite number")
            if name.endswith(("spread", "variance")) and not (value > 0).all():
                raise GenlabError(f"{name} holds a value that is not positive")
        weight = tensors.get("reconstruction_weight", torch.tensor([TABLE_RECONSTRUCTION_WEIGHT]))
        if weight.shape not in ((1,), (members,)) or not ((weight >= 0) & (weight <= 1)).all():
            raise GenlabError(f"reconstruction_weight is {weight.tolist()}, not 1 or {members} numbers in [0, 1]")
        return cls(*(tensors[name].float() for name in FIELDS), weight.double().expand(members).clone())


def member_weights(model) -> torch.Tensor:
    """(M,) float64: each member's reconstruction weight, by its kind: MLP, conv, or conv beside restoring members
    (upright or restoring)."""
    members, restoring = model.config.members, model.config.restoring  # only conv members restore
    if not restoring:
        weight = IMAGE_RECONSTRUCTION_WEIGHT if model.config.arch == "conv" else TABLE_RECONSTRUCTION_WEIGHT
        return torch.full((members,), weight, dtype=torch.float64)
    weights = torch.full((members,), UPRIGHT_RECONSTRUCTION_WEIGHT, dtype=torch.float64)
    weights[members - restoring:] = RESTORING_RECONSTRUCTION_WEIGHT
    return weights


def reference_rows(model) -> int:
    """How many training codes per member the code distance keeps, at most."""
    return IMAGE_REFERENCE_ROWS if model.config.arch == "conv" else REFERENCE_ROWS


def member_squared_residuals(model, x: torch.Tensor) -> torch.Tensor:
    """(M, B, D): every member's squared residual per scaled feature."""
    u = model.scaled(x.to(model.device))
    return (model.members_forward(u)[1] - u).square()


def robust_centre(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per column of (N, M): the median and the median absolute deviation (floored above 0)."""
    values = values.double()
    centre = values.median(0).values
    spread = (values - centre).abs().median(0).values
    floor = 1e-9 * centre.abs().clamp_min(1.0)  # identical scores (a tiny or constant set) still divide
    return centre.float(), torch.maximum(spread, floor).float()
