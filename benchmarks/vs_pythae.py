"""genlab against pythae: the same VAE on MNIST, trained by each tool, from one script.

Protocol
- Data: MNIST, statically binarised once (seed 0) so that the Bernoulli likelihood is a
  proper likelihood; genlab's seeded split of the official training set, 54,000 for
  training and 6,000 for validation, given to both tools; the official 10,000 test images.
- Networks, identical for both: encoder 784-512-512 -> (mu, log sigma^2) of 32 each,
  decoder 32-512-512-784 with a sigmoid (pythae) or logits (genlab), ReLU throughout.
- Training: 10 epochs, batch 128, Adam with learning rate 1e-3, each tool with its own
  defaults otherwise (genlab: fused Adam, fp32 on CPU, in-memory batches, denormals
  flushed, hidden layers initialised for ReLU; pythae: Adam, fp32, its DataLoader,
  networks written as its documentation shows, so with PyTorch's default
  initialisation). Both validate once per epoch. genlab is
  also run with train.precision=bf16 ("genlab-bf16"), reported beside the headline.
- Each training runs in its own child process, so that no process-wide setting of one
  tool reaches the other; the order of the tools rotates from seed to seed.
- Measures: training images/s = epochs x training samples / wall time of the training
  call; the test negative ELBO (nats, one posterior sample per image, the same evaluation
  code and seed for both models).

Run:  python benchmarks/vs_pythae.py            (about 8 minutes on 2 cores)
      python benchmarks/vs_pythae.py --epochs 1 --seeds 0   (a quick check)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# What chose this benchmark's settings, and on which data (recorded in the JSON).
SELECTION = (
    "none on the test images: networks, epochs, batch and optimiser are fixed in advance and the same "
    "for both tools; pythae's final model is its best on the validation split (its own rule), "
    "genlab's is its last"
)

LATENT = 32
HIDDEN = [512, 512]
TOOLS = ["genlab", "pythae", "genlab-bf16"]


def train_genlab(seed, epochs, batch_size, lr, workdir: Path, precision: str):
    import genlab

    run = workdir / f"genlab-{precision}-{seed}"
    config = {
        "seed": seed,
        "model": {"name": "vae", "arch": "mlp", "hidden": HIDDEN, "latent_dim": LATENT, "likelihood": "bernoulli"},
        "data": {"name": "mnist", "binarize": "static"},
        "train": {"epochs": epochs, "batch_size": batch_size, "optimizer": "adam", "lr": lr, "tensorboard": False,
                  "precision": precision},
    }
    model = genlab.train(config=config, run_dir=run, progress=False)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    seconds = [r for r in records if r.get("event") == "end"][-1]["train_seconds"]

    def log_px(z, x):
        return -model.likelihood.nll(model.decoder(z), x)

    return model.posterior, log_px, seconds, model.num_parameters(), records[0]["precision"]


def train_pythae(seed, epochs, batch_size, lr, workdir: Path, train_x, val_x):
    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    class Encoder(BaseEncoder):
        def __init__(self):
            BaseEncoder.__init__(self)
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, HIDDEN[0]), nn.ReLU(), nn.Linear(HIDDEN[0], HIDDEN[1]),
                                     nn.ReLU(), nn.Linear(HIDDEN[1], 2 * LATENT))

        def forward(self, x):
            mu, logvar = self.net(x).chunk(2, dim=1)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self):
            BaseDecoder.__init__(self)
            self.net = nn.Sequential(nn.Linear(LATENT, HIDDEN[1]), nn.ReLU(), nn.Linear(HIDDEN[1], HIDDEN[0]), nn.ReLU(),
                                     nn.Linear(HIDDEN[0], 784), nn.Sigmoid())

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z).reshape(-1, 1, 28, 28))

    torch.manual_seed(seed)
    model = VAE(VAEConfig(input_dim=(1, 28, 28), latent_dim=LATENT, reconstruction_loss="bce"),
                encoder=Encoder(), decoder=Decoder())
    config = BaseTrainerConfig(output_dir=str(workdir / f"pythae-{seed}"), num_epochs=epochs, learning_rate=lr,
                               per_device_train_batch_size=batch_size, per_device_eval_batch_size=batch_size,
                               optimizer_cls="Adam", seed=seed, no_cuda=True)
    trainer = BaseTrainer(model, BaseDataset(train_x, torch.zeros(len(train_x))),
                          BaseDataset(val_x, torch.zeros(len(val_x))), config)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    best = trainer._best_model.eval()  # what pythae saves as its final model (best on validation)

    def posterior(x):
        out = best.encoder(x)
        return out.embedding, out.log_covariance

    def log_px(z, x):
        probabilities = best.decoder(z).reconstruction
        return -F.binary_cross_entropy(probabilities.flatten(1), x.flatten(1), reduction="none").sum(1)

    return posterior, log_px, seconds, sum(p.numel() for p in model.parameters()), "fp32"


@torch.no_grad()
def test_neg_elbo(posterior, log_px, x_test: torch.Tensor, seed: int = 0) -> float:
    """Mean negative ELBO over the test set, one posterior sample per image, in nats."""
    torch.manual_seed(seed)
    total = 0.0
    for batch in x_test.split(1000):
        mu, logvar = posterior(batch)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        kl = 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(1)
        total += float((-log_px(z, batch) + kl).sum())
    return total / len(x_test)


def child(args) -> None:
    """Train one tool with one seed; print its measurements as one JSON line."""
    if args.tool.startswith("genlab"):
        import genlab  # noqa: F401  (first, as a user's script would; genlab's Trainer makes its own CPU settings)
    arrays = np.load(args.arrays)
    train_x, val_x, test_x = (torch.from_numpy(arrays[k]).float() for k in ("train", "val", "test"))
    workdir = Path(args.workdir)
    if args.tool == "pythae":
        result = train_pythae(args.seed, args.epochs, args.batch_size, args.lr, workdir, train_x, val_x)
    else:
        precision = "bf16" if args.tool == "genlab-bf16" else "auto"
        result = train_genlab(args.seed, args.epochs, args.batch_size, args.lr, workdir, precision)
    posterior, log_px, seconds, parameters, precision = result
    print(json.dumps({
        "tool": args.tool, "seed": args.seed, "precision": precision, "train_seconds": round(seconds, 2),
        "images_per_s": round(args.epochs * len(train_x) / seconds, 1),
        "test_neg_elbo": round(test_neg_elbo(posterior, log_px, test_x), 3), "parameters": parameters,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--mirror", help="folder or URL with the MNIST files (default: ../shared/datasets/mnist if present)")
    parser.add_argument("--child", dest="tool", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--arrays", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tool:
        child(args)
        return

    from _common import machine, mirror_for, write_result

    from genlab.data import ensure_named_dataset, get_named_dataset, load_dataset
    from genlab.data.config import DataConfig

    ensure_named_dataset(get_named_dataset("mnist"), mirror=args.mirror or mirror_for("mnist"))
    data = load_dataset(DataConfig(name="mnist", binarize="static"))
    splits = {name: (data.split(name).x > 127).to(torch.uint8).numpy() for name in ("train", "val", "test")}
    sizes = {name: len(array) for name, array in splits.items()}

    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        arrays = Path(scratch) / "mnist-binarised.npz"
        np.savez(arrays, **splits)
        for index, seed in enumerate(args.seeds):
            for tool in TOOLS[index % 3 :] + TOOLS[: index % 3]:
                command = [sys.executable, __file__, "--child", tool, "--seed", str(seed), "--epochs", str(args.epochs),
                           "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--arrays", str(arrays),
                           "--workdir", scratch]
                output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
                run = json.loads(output.strip().splitlines()[-1])
                runs.append(run)
                print(json.dumps(run), flush=True)

    def values(tool, key):
        return [r[key] for r in runs if r["tool"] == tool]

    def mean(tool, key):
        return statistics.fmean(values(tool, key))

    def spread(tool, key):
        return statistics.stdev(values(tool, key)) if len(values(tool, key)) > 1 else 0.0

    result = {
        "benchmark": "vs_pythae",
        "protocol": {
            "selection_protocol": SELECTION,
            "data": "MNIST, statically binarised with seed 0; genlab's seeded split of the official training set",
            "train_samples": sizes["train"], "val_samples": sizes["val"], "test_samples": sizes["test"],
            "networks": "MLP encoder 784-512-512-(32+32), decoder 32-512-512-784, ReLU",
            "epochs": args.epochs, "batch_size": args.batch_size, "optimizer": f"Adam lr={args.lr}",
            "seeds": args.seeds,
            "test_elbo": "negative ELBO in nats, one posterior sample per test image, same code and seed for both",
            "throughput": "epochs x training samples / wall time of the training call (both validate every epoch)",
            "isolation": "each training in its own child process",
            "initialisation": "genlab: He for layers feeding ReLU (its default); pythae: PyTorch's default",
            "genlab_precision": values("genlab", "precision")[0],
            "pythae_version": "0.1.2",
        },
        "machine": machine(),
        "runs": runs,
        "throughput_ratio": round(mean("genlab", "images_per_s") / mean("pythae", "images_per_s"), 3),
        "images_per_s_genlab": round(mean("genlab", "images_per_s"), 1),
        "images_per_s_pythae": round(mean("pythae", "images_per_s"), 1),
        "test_elbo_genlab": round(mean("genlab", "test_neg_elbo"), 3),
        "test_elbo_pythae": round(mean("pythae", "test_neg_elbo"), 3),
        "test_elbo_genlab_std": round(spread("genlab", "test_neg_elbo"), 3),
        "test_elbo_pythae_std": round(spread("pythae", "test_neg_elbo"), 3),
        "bf16": {
            "throughput_ratio": round(mean("genlab-bf16", "images_per_s") / mean("pythae", "images_per_s"), 3),
            "images_per_s": round(mean("genlab-bf16", "images_per_s"), 1),
            "test_elbo": round(mean("genlab-bf16", "test_neg_elbo"), 3),
            "test_elbo_std": round(spread("genlab-bf16", "test_neg_elbo"), 3),
        },
    }
    write_result("vs_pythae", result)
    print(f"throughput ratio genlab/pythae {result['throughput_ratio']}x; test -ELBO genlab {result['test_elbo_genlab']} "
          f"vs pythae {result['test_elbo_pythae']} nats")


if __name__ == "__main__":
    main()
