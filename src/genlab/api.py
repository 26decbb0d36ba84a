"""The Python API: genlab.train(...) and genlab.load(run_dir), and what they share with the CLI."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genlab import log
from genlab.data.batches import BatchLoader
from genlab.data.config import DataConfig
from genlab.data.dataset import Dataset, load_dataset
from genlab.data.memory import IN_MEMORY, is_in_memory
from genlab.errors import GenlabError
from genlab.files import NO_SPACE, disk_error
from genlab.models.base import CONFIG_FILE as MODEL_DESCRIPTION
from genlab.models.base import GenerativeModel, get_model_class, load_model, read_description
from genlab.models.custom import DiscriminatorAdapter, GeneratorAdapter, network_spec
from genlab.models.reference import load_reference_classifier
from genlab.resources import check_fits
from genlab.run_config import RunConfig, resolve_run_config
from genlab.runs import RunDirectory, default_run_dir, model_dir_of
from genlab.settings import build_dataclass
from genlab.training.checkpoint import load_checkpoint
from genlab.training.curves import plot_training_curves
from genlab.training.distributed import Distributed, init_distributed, resolve_device
from genlab.training.monitors import ClassBalanceMonitor
from genlab.training.resume_check import check_unchanged
from genlab.training.trainer import Monitor, Trainer

logger = logging.getLogger(__name__)


def train(
    model: str | None = None,
    data: Any = None,
    *,
    epochs: int | None = None,
    run_dir: str | Path | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    resume: bool = False,
    progress: bool = True,
    monitors: Sequence[Monitor] | None = None,
    device: str | None = None,
    networks: Mapping[str, nn.Module] | None = None,
) -> GenerativeModel:
    """Train a model and write its run directory; return the trained model.

        model = genlab.train("vae", data="digits", epochs=5)
        model = genlab.train("ae", data=X)                      # an array, tensor, (X, y), DataFrame or Dataset
        model = genlab.train("dae", data="mnist", overrides={"model.noise": "masking", "train.lr": 3e-4})
        model = genlab.train("vae", data=X, networks={"encoder": MyEncoder(), "decoder": MyDecoder()})
        model = genlab.train(run_dir="runs/vae-digits-...", resume=True)

    `data` is a dataset name, a file or folder, or data in memory (genlab.data.memory);
    the run records its fingerprint, and a rerun or resume on other data is refused.
    `config` is a YAML file or a dict with model/data/train/seed sections; `overrides`
    are "section.key=value" strings or a {"section.key": value} dict, applied last.
    `device` is auto (a GPU when there is one), cpu, cuda, cuda:N or mps.
    `networks` are the user's own modules by role (encoder, decoder, generator,
    discriminator), under the shape contract of genlab.models.custom.
    `monitors` are callables model -> dict logged beside the losses (default: the
    collapse diagnostic for generators whose dataset has a reference classifier).
    Messages go to the `genlab` logger; with `progress` they are shown on stderr unless
    the program has configured logging. Under `torchrun` every process calls this and
    only rank 0 writes.
    """
    if progress:
        log.show_messages()
    source = data if is_in_memory(data) else None
    if source is not None:
        data = IN_MEMORY
    elif data is not None:
        data = str(data)
    if device is not None:
        overrides = ({**overrides, "train.device": device} if isinstance(overrides, Mapping)
                     else [*overrides, f"train.device={device}"])
    if networks is not None and not isinstance(networks, Mapping):
        raise GenlabError("networks must be a dict by role, e.g. {'encoder': MyEncoder(), 'decoder': MyDecoder()}")
    specs = {role: network_spec(module, role) for role, module in (networks or {}).items()}
    distributed = init_distributed()
    try:
        trained = _train(distributed, model, data, source, epochs, run_dir, config, overrides, resume, progress,
                         monitors, specs, networks or {})
    except BaseException:
        distributed.close(wait=False)  # torchrun stops the other ranks; do not wait for them
        raise
    distributed.close()
    return trained


def _train(distributed, model, data, source, epochs, run_dir, config, overrides, resume, progress, monitors,
           specs, modules) -> GenerativeModel:
    if resume:
        if run_dir is None:
            raise GenlabError("resume needs the run directory to continue (--resume RUN_DIR)")
        run = RunDirectory.open(run_dir)
        run.refuse_if_busy()
        run_config = _resumed_config(run, overrides, epochs)
        if data is not None and data != run_config.data.name:
            raise GenlabError(f"this run was trained on '{run_config.data.name}'; resume it on the same data")
        specs = specs or _recorded_networks(run)
    else:
        run_config = resolve_run_config(model=model, data=data, config=config, overrides=overrides, epochs=epochs)
        run = None
    if not progress:
        run_config.train.progress = False

    dataset = _load_for_all_ranks(run_config, distributed, get_model_class(run_config.model_name).image_range, source)
    run_config.data.fingerprint = dataset.fingerprint  # the record a rerun or resume is checked against
    run_config.data.audio = dataset.audio  # the front end as chosen, so new clips are transformed the same way
    _fit_batch_size(run_config, len(dataset.train) // distributed.world_size)
    torch.manual_seed(run_config.seed)  # the initial weights follow from the seed
    trained = build_model(run_config, dataset, specs)
    if not resume:
        _start_from(trained, modules)
    tree = run_config.to_dict(trained.config)
    if run is None:
        path = distributed.broadcast(str(run_dir or default_run_dir(run_config.model_name, run_config.data.name)))
        if distributed.is_main:
            run = RunDirectory.create(path, tree)
        distributed.barrier()
        run = run or RunDirectory(path)
    attempt = None
    if resume and distributed.is_main:
        run.lock()  # the one writer: a second training on this run is refused with this process's PID
        try:
            _refuse_changed_settings(run, tree)  # before config.yaml is rewritten
            attempt = run.attempt()
            run.write_config(tree)  # records a changed epoch count or other train settings
        except BaseException:
            run.unlock()
            raise
    try:
        return _fit(run, trained, dataset, run_config, distributed, resume, monitors)
    except BaseException as error:
        if distributed.is_main and attempt is None:
            run.discard_failed_start()
        elif distributed.is_main:
            run.roll_back(attempt)
        if isinstance(error, OSError) and error.errno in NO_SPACE:  # a write outside the atomic helpers (a log line)
            raise disk_error(error, error.filename or run.root) from None
        raise
    finally:
        if distributed.is_main:
            run.unlock()


def _fit(run, trained, dataset, run_config, distributed, resume, monitors) -> GenerativeModel:
    """Train in an open run directory (the Trainer does the work) and draw the curves."""
    announce = distributed.is_main and run_config.train.progress
    if announce and dataset.table is not None and not resume:
        logger.info(dataset.table.summary())  # what each column was taken for: check before trusting the model
    if announce and dataset.table is not None and dataset.num_classes and not resume:
        logger.info(f"the label column holds {dataset.num_classes} classes and is not a model input "
                    "(name another with data.label_column)")
    if announce:
        logger.info(f"{'resuming' if resume else 'training'} {run_config.model_name} on {run_config.data.name}: {run.root}")
    tree = run_config.to_dict(trained.config)
    trainer = Trainer(trained, run_config.train, seed=run_config.seed, run=run, distributed=distributed,
                      monitors=default_monitors(trained) if monitors is None else monitors,
                      settings=resume_settings(tree))
    loaders = make_loaders(dataset, run_config, trainer.device, distributed)
    trainer.fit(*loaders, resume=resume)
    if distributed.is_main:
        plot_training_curves(run.metrics_path, run.curves_path)
    if announce:
        logger.info(f"done: model in {run.model_dir}, grids in {run.samples_dir}, curves in {run.curves_path}")
    return trained


def load(path: str | Path, device: str | torch.device = "cpu") -> GenerativeModel:
    """Load the model of a run directory (or a model folder) in eval mode, on `device` (auto, cpu, cuda, cuda:N, mps)."""
    return load_model(model_dir_of(path), device=resolve_device(device))


def default_monitors(model: GenerativeModel) -> list[Monitor]:
    """The collapse diagnostic for a generator whose dataset has a reference classifier (and that asks for it)."""
    samples = getattr(model.config, "monitor_samples", 0)
    if not (model.capabilities.samples and model.capabilities.images) or samples <= 0:
        return []
    classifier = load_reference_classifier(model.config.dataset)
    if classifier is None or tuple(classifier.config.data_shape) != tuple(model.config.data_shape):
        return []
    return [ClassBalanceMonitor(classifier, samples)]


def build_model(run_config: RunConfig, dataset: Dataset, networks: Mapping[str, dict] | None = None) -> GenerativeModel:
    """The configured model, sized from the data it will be trained on (with the user's networks, as specs)."""
    cls = get_model_class(run_config.model_name)
    config = cls.config_class(
        **run_config.model,
        data_shape=dataset.shape,
        num_classes=dataset.num_classes,
        class_names=list(dataset.class_names) if dataset.class_names else None,
        value_range=dataset.preprocessing.value_range,
        preprocessing=dataset.preprocessing.to_dict(),
        dataset=run_config.data.name,
        table=dataset.table.to_dict() if dataset.table is not None else None,
        audio=dataset.audio,
        networks=dict(networks) if networks else None,
    )
    _check_model_fits(cls, config)
    model = cls(config)
    unused = sorted(set(networks or {}) - {name for name, _ in model.named_children()})
    if unused:
        raise GenlabError(f"a {run_config.model_name} has no '{unused[0]}' network to replace")
    return model


def _check_model_fits(cls: type[GenerativeModel], config) -> None:
    """Refuse, before allocating, a model whose training state (weights, gradients, two Adam moments) would not
    fit in free memory: it is first built on the meta device, which allocates nothing."""
    with torch.device("meta"):
        shell = cls(copy.deepcopy(config))  # a model may fill in its config as it is built: the real build does
    values = sum(p.numel() for p in shell.parameters())
    check_fits(values, (1,), "parameters (with their gradients and Adam's two moments)",
               "make the model smaller (model.hidden, model.channels, model.width, model.latent_dim)", copies=4)


def make_loaders(
    dataset: Dataset, run_config: RunConfig, device: torch.device, distributed: Distributed
) -> tuple[BatchLoader, BatchLoader | None]:
    """Shuffled, equally sharded training batches and in-order validation batches for this rank."""
    common = {"rank": distributed.rank, "world_size": distributed.world_size, "device": device}
    batch_size = run_config.train.batch_size
    train = BatchLoader(dataset.train.x, dataset.train.y, dataset.preprocessing, batch_size=batch_size,
                        shuffle=True, drop_last=True, seed=run_config.seed, **common)
    val = None
    if len(dataset.val) >= distributed.world_size:  # every rank needs a share for the collective mean
        val = BatchLoader(dataset.val.x, dataset.val.y, dataset.preprocessing, batch_size=max(batch_size, 256),
                          shuffle=False, drop_last=False, **common)
    return train, val


def run_data_config(path: str | Path | None, model: GenerativeModel) -> DataConfig:
    """The data section a run was trained with; for a bare model folder, its dataset's defaults."""
    run = RunDirectory.find(path) if path is not None else None
    if run is not None:
        return build_dataclass(DataConfig, run.read_config().get("data") or {}, "data")
    if not model.config.dataset:
        raise GenlabError("this model does not record its training data; name the data to use (--data)")
    return DataConfig(name=model.config.dataset)


def _load_for_all_ranks(run_config: RunConfig, distributed: Distributed, image_range: str, source: Any) -> Dataset:
    """Rank 0 loads first (and downloads what is missing), then the others read the cache."""
    dataset = load_dataset(run_config.data, image_range=image_range, source=source) if distributed.is_main else None
    distributed.barrier()
    if dataset is not None:
        return dataset
    return load_dataset(run_config.data, download=False, image_range=image_range, source=source)


def _start_from(model: GenerativeModel, modules: Mapping[str, nn.Module]) -> None:
    """Give the rebuilt user networks the weights the user's modules hold (a pretrained start, say)."""
    for role, module in modules.items():
        built = getattr(model, role, None)
        if isinstance(built, (GeneratorAdapter, DiscriminatorAdapter)):
            built = built.net  # a GAN wraps the user's module
        if isinstance(built, nn.Module):
            built.load_state_dict(module.state_dict())


def _fit_batch_size(run_config: RunConfig, per_process: int) -> None:
    """Small data: whole batches (drop_last) larger than the training split would leave nothing to train on."""
    if 0 < per_process < run_config.train.batch_size:
        logger.info(f"train.batch_size {run_config.train.batch_size} is more than the {per_process} training "
                    f"samples; training on batches of {per_process}")
        run_config.train.batch_size = per_process


def resume_settings(tree: dict) -> dict:
    """The parts of a run's config a resume must find unchanged: model, data (with its fingerprint) and seed."""
    return {key: tree[key] for key in ("seed", "model", "data")}


def _refuse_changed_settings(run: RunDirectory, tree: dict) -> None:
    if run.checkpoint_path.is_file():
        recorded = load_checkpoint(run.checkpoint_path).get("settings")
        check_unchanged(recorded, resume_settings(tree))


def _recorded_networks(run: RunDirectory) -> dict:
    """The user networks a run's model was built with (from its model/config.json), for resuming."""
    if not (run.model_dir / MODEL_DESCRIPTION).is_file():
        return {}  # stopped before its first epoch ended: resumed with genlab's own networks, or networks= again
    return dict((read_description(run.model_dir).get("config") or {}).get("networks") or {})


def _resumed_config(run: RunDirectory, overrides, epochs: int | None) -> RunConfig:
    """The run's own config; only train settings (such as more epochs) may change."""
    items = overrides.items() if isinstance(overrides, Mapping) else [(o.partition("=")[0], None) for o in overrides]
    changed = [key for key, _ in items if not key.startswith("train.")]
    if changed:
        raise GenlabError(f"a resumed run keeps its model, data and seed; only train.* settings can change (not {changed[0]})")
    return resolve_run_config(config=run.read_config(), overrides=overrides, epochs=epochs)
