"""One Trainer for every genlab model.

The loop asks the model which parameter groups to update at each step and for the
losses of each; it then does the same thing for all of them: backward, clipping,
optimizer and scheduler steps, logging, checkpoints, validation and previews. It
never looks at the model's type.

Per step it keeps the losses as tensors and reads them back only every `log_every`
steps (one synchronisation per window, not per step); that is also where a NaN or
infinite loss is caught, before any checkpoint could store poisoned weights.

Where it writes is handed to it: `run` is any object with the paths of `RunFiles`
(genlab.runs.RunDirectory is one), and `monitors` are callables whose numbers are
logged beside the losses (genlab.training.monitors).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from genlab.data.batches import Batch, BatchLoader
from genlab.errors import GenlabError, TrainingDivergedError
from genlab.images import save_image_grid
from genlab.models.base import GenerativeModel
from genlab.training.checkpoint import capture_rng, check_state, load_checkpoint, restore_rng, save_checkpoint
from genlab.training.config import TrainConfig
from genlab.training.distributed import Distributed, resolve_device, resolve_precision
from genlab.training.metrics import MetricsLog
from genlab.training.numerics import flush_denormals
from genlab.training.optim import build_optimizer, build_scheduler
from genlab.training.resume_check import check_unchanged
from genlab.version import __version__

EVAL_SEED_OFFSET = 7919  # validation noise is seeded apart from the training stream
INIT_SAMPLES = 20_000  # enough for the principal components of 784 pixels, and seconds to decompose

logger = logging.getLogger(__name__)

Monitor = Callable[[GenerativeModel], dict]


class RunFiles(Protocol):
    """Where a training run writes: its checkpoint, metric log, model folder, grids and TensorBoard events."""

    checkpoint_path: Path
    metrics_path: Path
    model_dir: Path
    tensorboard_dir: Path

    def preview_path(self, epoch: int, name: str) -> Path: ...


@dataclass
class Position:
    """Where training is: global step, current epoch, batches done in it."""

    step: int = 0
    epoch: int = 0
    batch: int = 0


class Trainer:
    def __init__(
        self,
        model: GenerativeModel,
        config: TrainConfig,
        *,
        seed: int = 0,
        run: RunFiles | None = None,
        distributed: Distributed | None = None,
        monitors: Sequence[Monitor] = (),
        settings: dict | None = None,
    ):
        self.model = model
        # what a resume must find unchanged (the run's model, data and seed), kept in every checkpoint
        self.settings = json.loads(json.dumps(settings)) if settings is not None else None
        self.config = config
        self.seed = seed
        self.run = run
        self.monitors = list(monitors)
        self.dist = distributed or Distributed()
        self.device = resolve_device(config.device, self.dist.local_rank)
        self.precision = resolve_precision(config.precision, self.device, model.prefers_bf16)
        self.position = Position()
        self.show = self.dist.is_main and config.progress

    # ---- public ----------------------------------------------------------------------

    def fit(self, train: BatchLoader, val: BatchLoader | None = None, *, resume: bool = False) -> GenerativeModel:
        """Train for config.epochs; with `resume`, continue from the run's last checkpoint."""
        with flush_denormals(self.config.flush_denormals):
            return self._fit(train, val, resume)

    def _fit(self, train: BatchLoader, val: BatchLoader | None, resume: bool) -> GenerativeModel:
        cfg = self.config
        steps_per_epoch = len(train)
        if steps_per_epoch == 0:
            raise GenlabError(
                f"train.batch_size {cfg.batch_size} is larger than the {train.shard_size} training samples "
                "per process; lower it"
            )
        model = self.model.to(self.device).train()
        groups = model.parameter_groups()
        self.group_params = groups
        self.optimizers = {name: build_optimizer(params, cfg, self.device, model.optimizer_settings(name))
                           for name, params in groups.items()}
        self.schedulers = {name: build_scheduler(opt, cfg, steps_per_epoch) for name, opt in self.optimizers.items()}
        # a single group logs plain names ("loss"); several log "<group>/loss"
        self.prefixes = {name: "" if len(groups) == 1 else f"{name}/" for name in groups}
        torch.manual_seed(self.seed * 1000 + self.dist.rank)  # each rank draws its own noise

        resumed = self._restore(steps_per_epoch) if resume else False
        if not resumed and model.starts_from_data:  # a data-dependent start, before any replica copies the weights
            model.initialise_from_data(train.preprocessing(train.x[:INIT_SAMPLES]).to(self.device))
        step_fn = model
        if self.dist.active:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            step_fn = DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=len(groups) > 1)
        if cfg.compile:
            step_fn = torch.compile(step_fn)

        # a resume that found no checkpoint starts over: lines a killed first attempt logged are dropped
        log = self._open_log(resumed or resume, resumed_mid_epoch=resumed and self.position.batch > 0)
        if log is not None:
            log.write(self._run_record(train, resumed))
        preview_batch = self._preview_batch(val if val is not None else train)
        started = time.perf_counter()
        self.deadline = started + 60 * cfg.max_minutes if cfg.max_minutes else None
        self.out_of_time = False
        if resumed and self.position.epoch >= cfg.epochs and self.run is not None and self.dist.is_main:
            self.model.save_pretrained(self.run.model_dir)  # a kill after the last checkpoint may have stopped this
        try:
            while self.position.epoch < cfg.epochs and not self.out_of_time:
                self._train_epoch(step_fn, train, log)
                val_metrics = self.evaluate(val) if val is not None else {}
                if log is not None and val_metrics:
                    log.write({"split": "val", "step": self.position.step, "epoch": self.position.epoch, **val_metrics})
                if cfg.writes_at_epoch_end(self.position.epoch) or self.out_of_time:  # a resume replays the others
                    self._end_of_epoch(preview_batch)
                self._say_epoch(val_metrics)
            if log is not None:
                log.write({"split": "run", "step": self.position.step, "event": "end",
                           "train_seconds": round(time.perf_counter() - started, 3),
                           **({"stopped": "train.max_minutes reached"} if self.out_of_time else {})})
        finally:
            if log is not None:
                log.close()
        return model.eval()

    @torch.no_grad()
    def evaluate(self, loader: BatchLoader) -> dict[str, float]:
        """Mean validation metrics over the whole split (all ranks' shards together)."""
        model = self.model
        model.eval()
        sums: dict[str, torch.Tensor] = {}
        count = 0
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed + EVAL_SEED_OFFSET + self.dist.rank)
            for batch in loader.epoch(0):
                with self._autocast():
                    metrics = model.validation_metrics(batch.x, batch.y)
                for key, value in metrics.items():
                    sums[key] = sums.get(key, 0) + value.detach().float() * len(batch.x)
                count += len(batch.x)
        model.train()
        if not sums:
            return {}
        keys = sorted(sums)
        totals = self.dist.all_reduce_sum(torch.stack([sums[k] for k in keys] + [torch.tensor(float(count), device=sums[keys[0]].device)]))
        return {key: float(value) for key, value in zip(keys, (totals[:-1] / totals[-1]).tolist())}

    # ---- the loop --------------------------------------------------------------------

    def _train_epoch(self, step_fn, train: BatchLoader, log: MetricsLog | None) -> None:
        cfg, position = self.config, self.position
        images_per_step = train.batch_size * self.dist.world_size
        bar = tqdm(total=len(train), initial=position.batch, desc=f"epoch {position.epoch + 1}/{cfg.epochs}",
                   unit="batch", disable=None if self.show else True, leave=False, dynamic_ncols=True)
        window: list[dict[str, torch.Tensor]] = []
        window_start = time.perf_counter()
        self.last_train: dict[str, float] = {}
        for batch in train.epoch(position.epoch, start=position.batch):
            window.append(self._step(step_fn, batch))
            position.step += 1
            position.batch += 1
            bar.update()
            checkpoint_due = cfg.checkpoint_every and position.step % cfg.checkpoint_every == 0
            if position.step % cfg.log_every == 0 or checkpoint_due:
                elapsed = time.perf_counter() - window_start
                self._flush(window, images_per_step * len(window) / max(elapsed, 1e-9), log, bar)
                window, window_start = [], time.perf_counter()
            if checkpoint_due:
                self._save_checkpoint()
            if self.out_of_time:
                break
        if window:
            elapsed = time.perf_counter() - window_start
            self._flush(window, images_per_step * len(window) / max(elapsed, 1e-9), log, bar)
        bar.close()
        if position.batch == len(train):  # a time limit can end an epoch early; resume continues it
            position.epoch += 1
            position.batch = 0

    def _step(self, step_fn, batch: Batch) -> dict[str, torch.Tensor]:
        """One training step: every scheduled group does forward, backward and update."""
        model, step = self.model, self.position.step
        record: dict[str, torch.Tensor] = {}
        groups = model.groups_to_update(step)
        for group in groups:
            optimizer = self.optimizers[group]
            optimizer.zero_grad(set_to_none=True)
            with self._autocast():
                losses = step_fn(batch.x, batch.y, group=group, step=step)
            losses["loss"].backward()
            if self.config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(self.group_params[group], self.config.grad_clip)
            optimizer.step()
            self.schedulers[group].step()
            model.after_update(group)
            prefix = self.prefixes[group]
            for key, value in losses.items():
                record[prefix + key] = value.detach()
        return record

    def _flush(self, window: list[dict[str, torch.Tensor]], images_per_s: float, log, bar) -> None:
        """Read the window's losses back once: stop on NaN/inf, else log their means."""
        keys = sorted({key for record in window for key in record})
        first_step = self.position.step - len(window) + 1
        # A key can be missing from some steps (a GAN generator skipped on critic-only steps): those count as 0
        # in the sum and are left out of the key's mean.
        zero = torch.zeros(())
        stacked = torch.stack([torch.stack([record.get(key, zero).float() for key in keys]) for record in window])
        present = torch.tensor([[key in record for key in keys] for record in window], dtype=torch.float32)
        finite = torch.isfinite(stacked).all(dim=1)
        time_up = self.deadline is not None and time.perf_counter() > self.deadline
        summary = torch.cat([stacked.sum(0), present.sum(0), torch.tensor([float(time_up)]),
                             (~finite).sum().reshape(1).float()])
        summary = self.dist.all_reduce_sum(summary)  # every rank learns of a NaN or the deadline anywhere
        self.out_of_time = bool(summary[-2] > 0)
        if summary[-1] > 0:
            bad = int((~finite).nonzero()[0, 0]) if not finite.all() else 0
            self._diverged(first_step + bad, keys, stacked[bad] if not finite.all() else None)
        sums, counts = summary[:len(keys)], summary[len(keys):-2]
        means = (sums / counts.clamp(min=1)).tolist()
        values = dict(zip(keys, means))
        self.last_train = values
        first_group = next(iter(self.optimizers.values()))
        record = {"split": "train", "step": self.position.step, "epoch": self.position.epoch + 1, **values,
                  "lr": first_group.param_groups[0]["lr"], "images_per_s": round(images_per_s, 1)}
        if log is not None:
            log.write({**record, **self._monitor()})
        if bar is not None and not bar.disable:
            bar.set_postfix(loss=f"{values.get('loss', next(iter(values.values()))):.4g}", img_s=f"{images_per_s:,.0f}")

    @torch.no_grad()
    def _monitor(self) -> dict:
        """The monitors' numbers, drawn without touching the training random stream."""
        if not self.monitors:
            return {}
        devices = [self.device] if self.device.type == "cuda" else []
        record: dict = {}
        with torch.random.fork_rng(devices=devices), self._autocast():
            for monitor in self.monitors:
                record.update(monitor(self.model))
        return record

    def _diverged(self, step: int, keys: list[str], values: torch.Tensor | None) -> None:
        where = "on another process" if values is None else ", ".join(
            f"{key}={value:g}" for key, value in zip(keys, values.tolist()) if not torch.isfinite(torch.tensor(value))
        )
        kept = (f"the last good checkpoint {self.run.checkpoint_path} was kept"
                if self.run is not None and self.run.checkpoint_path.is_file() else "no checkpoint was written")
        raise TrainingDivergedError(
            f"training diverged at step {step} (epoch {self.position.epoch + 1}): {where}; {kept}; "
            "try a lower train.lr, train.grad_clip=1.0 or train.precision=fp32"
        )

    def _autocast(self):
        if self.precision != "bf16":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    # ---- run directory -------------------------------------------------------------

    def _open_log(self, resumed: bool, resumed_mid_epoch: bool) -> MetricsLog | None:
        if self.run is None or not self.dist.is_main:
            return None
        tensorboard = self.run.tensorboard_dir if self.config.tensorboard else None
        # a checkpoint taken mid-epoch precedes that epoch's validation: it is run (and logged) again
        return MetricsLog(self.run.metrics_path, resume_step=self.position.step if resumed else None,
                          tensorboard_dir=tensorboard, redo_validation=resumed_mid_epoch)

    def _run_record(self, train: BatchLoader, resumed: bool) -> dict:
        return {"split": "run", "step": self.position.step, "event": "resume" if resumed else "start",
                "device": str(self.device), "precision": self.precision, "world_size": self.dist.world_size,
                "steps_per_epoch": len(train), "train_samples": train.samples_per_epoch * self.dist.world_size,
                "parameters": self.model.num_parameters(), "threads": torch.get_num_threads(),
                "torch": torch.__version__, "genlab": __version__}

    def _preview_batch(self, loader: BatchLoader) -> Batch | None:
        if self.run is None or not self.dist.is_main or self.config.preview_samples <= 0:
            return None
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            batch = next(iter(loader.epoch(0)), Batch(torch.empty(0), None))
        half = self.config.preview_samples // 2
        return Batch(batch.x[:half], batch.y[:half] if batch.y is not None else None)

    def _end_of_epoch(self, preview_batch: Batch | None) -> None:
        # the checkpoint first: a write that fails (a full disk) then leaves no model newer than what a resume continues
        self._save_checkpoint()
        if self.run is not None and self.dist.is_main:
            if preview_batch is not None and len(preview_batch.x):
                self._save_previews(preview_batch)
            self.model.save_pretrained(self.run.model_dir)

    @torch.no_grad()
    def _save_previews(self, batch: Batch) -> None:
        model = self.model
        model.eval()
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            generator = torch.Generator(self.device).manual_seed(self.seed)  # the same codes every epoch
            images = model.preview(batch.x, batch.y, self.config.preview_samples, generator)
        model.train()
        for name, grid in images.items():
            save_image_grid(grid, self.run.preview_path(self.position.epoch, name))

    def _save_checkpoint(self) -> None:
        rng_states = self.dist.gather(capture_rng())  # collective: every rank takes part
        if self.run is None or not self.dist.is_main:
            return
        save_checkpoint(self.run.checkpoint_path, {
            "model": self.model.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "schedulers": {name: sched.state_dict() for name, sched in self.schedulers.items()},
            "step": self.position.step, "epoch": self.position.epoch, "batch": self.position.batch,
            "rng": rng_states, "world_size": self.dist.world_size,
            **({"settings": self.settings} if self.settings is not None else {}),
        })

    def _restore(self, steps_per_epoch: int) -> bool:
        """Load the run's last checkpoint into model, optimizers, schedulers, position and RNG."""
        path = self.run.checkpoint_path if self.run is not None else None
        if path is None or not (path.exists() or path.is_symlink()):
            self._say("no checkpoint yet: starting the run from the beginning")
            return False
        state = load_checkpoint(path)  # refuses a folder or device in its place: no silent start from scratch
        self._check_settings(state.get("settings"))
        check_state(path, state, self.model.state_dict(), steps_per_epoch, self.dist.world_size)
        try:
            self.model.load_state_dict(state["model"])
            for name, optimizer in self.optimizers.items():
                optimizer.load_state_dict(state["optimizers"][name])
                self.schedulers[name].load_state_dict(state["schedulers"][name])
            same_processes = state["world_size"] == self.dist.world_size
            if same_processes:
                restore_rng(state["rng"][self.dist.rank])
        except (KeyError, RuntimeError, ValueError, TypeError, IndexError, AttributeError) as error:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
            raise GenlabError(f"checkpoint {self.run.checkpoint_path} does not fit this model ({first}); "
                              "delete it to restart the run") from None
        self.position = Position(state["step"], state["epoch"], state["batch"])
        if not same_processes:
            self._say(f"resuming with {self.dist.world_size} processes instead of {state['world_size']}: "
                      "data order and noise will differ from an uninterrupted run")
        self._say(f"resumed at step {self.position.step} (epoch {self.position.epoch + 1}, batch {self.position.batch})")
        return True

    def _check_settings(self, recorded: dict | None) -> None:
        if self.settings is not None:
            check_unchanged(recorded, self.settings)

    # ---- messages ------------------------------------------------------------------

    def _say(self, message: str) -> None:
        if self.show:
            logger.info(message)

    def _say_epoch(self, val_metrics: dict[str, float]) -> None:
        train = self.last_train
        parts = [f"epoch {self.position.epoch}/{self.config.epochs}"]
        parts += [f"train {key} {train[key]:.4g}" for key in [k for k in train if k.endswith("loss")][:2]]
        shown = ["loss"] + [key for key in val_metrics if key != "loss"][:2]
        parts += [f"val {key} {val_metrics[key]:.4g}" for key in shown if key in val_metrics]
        if self.out_of_time:
            parts.append(f"(stopped: train.max_minutes={self.config.max_minutes} reached)")
        self._say("  ".join(parts))
