"""The Trainer: learning, exact resume after SIGKILL, the NaN guard, DDP with two processes."""

import json
import os
import signal
import subprocess
import time

import pytest
import torch
from conftest import PYTHON, QUICK, subprocess_env
from safetensors.torch import load_file

import genlab
from genlab.errors import TrainingDivergedError
from genlab.models import register_model
from genlab.models.autoencoder import Autoencoder
from genlab.training.checkpoint import load_checkpoint
from genlab.training.metrics import read_metrics


def records(run, split):
    return [r for r in read_metrics(run / "metrics.jsonl") if r["split"] == split]


@pytest.mark.parametrize("name", ["ae", "vae", "sparse-ae", "dae"])
def test_training_lowers_the_validation_loss(name, tmp_path):
    run = tmp_path / name
    genlab.train(name, "digits", epochs=4, run_dir=run, overrides=QUICK, progress=False)
    val, first_steps = records(run, "val"), records(run, "train")[0]
    assert len(val) == 4
    assert val[-1]["loss"] < 0.8 * first_steps["loss"]  # against the mean loss of steps 1-5
    assert sorted(p.name for p in (run / "samples").iterdir())[-2:] == ["epoch_004_reconstructions.png", "epoch_004_samples.png"]


def test_supervised_autoencoder_learns_the_labels(tmp_path):
    model = genlab.train("supervised-ae", "digits", epochs=6, run_dir=tmp_path / "s", overrides=QUICK, progress=False)
    assert records(tmp_path / "s", "val")[-1]["accuracy"] > 0.85
    test = genlab.data.load_dataset("digits").test
    inputs = genlab.data.load_dataset("digits").preprocessing(test.x)
    assert (model.predict(inputs) == test.y).float().mean() > 0.85


def test_sparse_autoencoder_codes_are_sparser_than_plain_ones(tmp_path):
    overrides = [*QUICK, "model.latent_dim=64"]
    genlab.train("sparse-ae", "digits", epochs=4, run_dir=tmp_path / "sparse",
                 overrides=[*overrides, "model.target_activation=0.05"], progress=False)
    sparse = genlab.load(tmp_path / "sparse")
    data = genlab.data.load_dataset("digits")
    codes = sparse.encode(data.preprocessing(data.val.x)).detach()
    assert 0.02 < float(codes.mean()) < 0.15  # pulled to the target activation 0.05
    plain = sparse.__class__(sparse.config.__class__(**{**sparse.config.__dict__, "sparsity_weight": 0.0}))
    assert float(plain.encode(data.preprocessing(data.val.x)).detach().mean()) > 0.3  # an untrained sigmoid code sits near 0.5


KILL_ARGS = ["train", "vae", "--data", "digits", "--epochs", "3", "--quiet",
             "--set", "train.batch_size=16", "--set", "model.arch=conv", "--set", "train.checkpoint_every=7",
             "--set", "train.log_every=7", "--set", "train.tensorboard=false", "--set", "train.preview_samples=8"]


def test_sigkill_mid_epoch_then_resume_gives_identical_weights(tmp_path):
    env = subprocess_env()
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    subprocess.run([PYTHON, "-m", "genlab", *KILL_ARGS, "--run-dir", reference], env=env, check=True, timeout=300)

    process = subprocess.Popen([PYTHON, "-m", "genlab", *KILL_ARGS, "--run-dir", killed], env=env)
    checkpoint = killed / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"

    state = load_checkpoint(checkpoint)
    steps_per_epoch = next(r for r in read_metrics(killed / "metrics.jsonl") if r.get("event") == "start")["steps_per_epoch"]
    assert 0 < state["batch"] < steps_per_epoch, "the checkpoint should be from the middle of an epoch"
    subprocess.run([PYTHON, "-m", "genlab", "train", "--resume", killed, "--quiet"], env=env, check=True, timeout=300)

    expected = load_file(reference / "model" / "model.safetensors")
    resumed = load_file(killed / "model" / "model.safetensors")
    assert expected.keys() == resumed.keys()
    for key in expected:
        assert torch.equal(expected[key], resumed[key]), key
    steps = [r["step"] for r in records(killed, "train")]
    assert steps == sorted(set(steps)), "metrics.jsonl repeats steps after the resume"
    assert steps == [r["step"] for r in records(reference, "train")]


@register_model("test-diverging-ae")
class DivergingAutoencoder(Autoencoder):
    """An autoencoder whose loss turns NaN from its sixth step on."""

    def forward(self, x, y=None, *, group="model", step=0):
        losses = super().forward(x, y, group=group, step=step)
        if step >= 5:
            losses["loss"] = losses["loss"] * float("nan")
        return losses


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    run = tmp_path / "nan"
    with pytest.raises(TrainingDivergedError) as caught:
        genlab.train("test-diverging-ae", "digits", epochs=2, run_dir=run, progress=False,
                     overrides=[*QUICK, "train.checkpoint_every=2", "train.log_every=1"])
    message = str(caught.value)
    assert "diverged at step 6" in message and "loss=nan" in message and "last good checkpoint" in message
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert state["step"] == 4
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())


def test_cli_reports_divergence_with_exit_code_1(tmp_path, cli):
    code, _, err = cli("train", "test-diverging-ae", "--data", "digits", "--run-dir", tmp_path / "r", "--quiet",
                       "--set", "train.log_every=1")
    assert code == 1 and err.startswith("error: training diverged at step 6") and err.count("\n") == 1
    # no checkpoint is due before step 6, and the line says so and what to try
    assert "no checkpoint was written; try a lower train.lr, train.grad_clip=1.0 or train.precision=fp32\n" in err


def test_a_nan_on_another_process_stops_this_one_too_and_says_where():
    from types import SimpleNamespace

    from genlab.training.trainer import Trainer

    def reduce_with_a_nan_elsewhere(summary):
        summary = summary.clone()
        summary[-1] += 1  # the last entry counts non-finite steps: one on another rank
        return summary

    trainer = SimpleNamespace(position=SimpleNamespace(step=12, epoch=0), deadline=None, run=None,
                              dist=SimpleNamespace(all_reduce_sum=reduce_with_a_nan_elsewhere))
    trainer._diverged = lambda *args: Trainer._diverged(trainer, *args)
    window = [{"loss": torch.tensor(0.5)}, {"loss": torch.tensor(0.4)}]  # finite here
    with pytest.raises(TrainingDivergedError, match="diverged at step 11 .*: on another process; no checkpoint was written"):
        Trainer._flush(trainer, window, 100.0, None, None)


def test_resume_can_extend_training(tmp_path):
    run = tmp_path / "r"
    genlab.train("ae", "digits", epochs=1, run_dir=run, overrides=QUICK, progress=False)
    genlab.train(run_dir=run, resume=True, epochs=2, progress=False)
    assert [r["epoch"] for r in records(run, "val")] == [1, 2]
    assert "epochs: 2" in (run / "config.yaml").read_text()


def test_two_process_torchrun_on_cpu(tmp_path):
    run = tmp_path / "ddp"
    command = [PYTHON, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "genlab",
               "train", "vae", "--data", "digits", "--epochs", "2", "--run-dir", str(run), "--quiet",
               "--set", "train.batch_size=32", "--set", "train.checkpoint_every=10", "--set", "train.tensorboard=false"]
    result = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, "\n".join(line for line in result.stderr.splitlines() if "elastic" not in line)[-3000:]
    start = [r for r in read_metrics(run / "metrics.jsonl") if r.get("event") == "start"]
    assert len(start) == 1, "only rank 0 writes"
    assert start[0]["world_size"] == 2
    train_samples = len(genlab.data.load_dataset("digits").train)
    assert start[0]["steps_per_epoch"] == (train_samples // 2) // 32  # each rank sees its own half
    assert len(records(run, "val")) == 2
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert len(state["rng"]) == 2 and not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])
    model = genlab.load(run)
    assert model.sample(4).shape == (4, 1, 8, 8)
    assert json.loads((run / "model" / "config.json").read_text())["model"] == "vae"


def test_two_process_torchrun_trains_a_gan(tmp_path):
    """Two parameter groups under DDP: D's and G's updates alternate and both players' losses are logged."""
    run = tmp_path / "ddp-gan"
    command = [PYTHON, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "genlab",
               "train", "gan", "--data", "digits", "--epochs", "2", "--run-dir", str(run), "--quiet",
               "--set", "train.batch_size=32", "--set", "train.tensorboard=false", "--set", "model.width=8"]
    result = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, "\n".join(line for line in result.stderr.splitlines() if "elastic" not in line)[-3000:]
    train = records(run, "train")
    assert train and {"discriminator/loss", "generator/loss"} <= set(train[-1])
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert int(state["model"]["ema_updates"]) == state["step"]  # one EMA update per G step
    assert genlab.load(run).sample(4).shape == (4, 1, 8, 8)


def test_compiled_training_matches_the_contract(tmp_path):
    model = genlab.train("ae", "digits", epochs=1, run_dir=tmp_path / "c", progress=False,
                         overrides=[*QUICK, "train.compile=true"])
    assert records(tmp_path / "c", "val")[-1]["loss"] < records(tmp_path / "c", "train")[0]["loss"]
    assert model.sample(2).shape == (2, 1, 8, 8)


def test_the_run_record_says_how_and_where_the_run_trained(tmp_path):
    run = tmp_path / "recorded"
    model = genlab.train("ae", "digits", epochs=1, run_dir=run, progress=False, overrides=QUICK)
    start = next(r for r in read_metrics(run / "metrics.jsonl") if r.get("event") == "start")
    steps = len(genlab.data.load_dataset("digits").train) // 64  # whole batches of 64 (QUICK): the rest waits
    assert start == {"split": "run", "step": 0, "event": "start", "device": "cpu", "precision": start["precision"],
                     "world_size": 1, "steps_per_epoch": steps, "train_samples": steps * 64,
                     "parameters": model.num_parameters(), "threads": torch.get_num_threads(),
                     "torch": torch.__version__, "genlab": genlab.__version__}
    assert start["precision"] in ("fp32", "bf16")
    genlab.train(run_dir=run, resume=True, epochs=2, progress=False)
    resumed = [r for r in read_metrics(run / "metrics.jsonl") if r.get("split") == "run" and r.get("event") != "end"]
    assert [r["event"] for r in resumed] == ["start", "resume"] and resumed[1]["step"] == steps


def test_time_limit_stops_mid_epoch_and_resume_finishes(tmp_path):
    run = tmp_path / "timed"
    genlab.train("ae", "digits", epochs=3, run_dir=run, progress=False,
                 overrides=[*QUICK, "train.max_minutes=1e-9", "train.log_every=2"])
    end = [r for r in read_metrics(run / "metrics.jsonl") if r.get("event") == "end"][-1]
    assert end["stopped"] == "train.max_minutes reached" and end["step"] == 2
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert (state["epoch"], state["batch"], state["step"]) == (0, 2, 2)
    assert (run / "model" / "model.safetensors").is_file()
    genlab.train(run_dir=run, resume=True, progress=False, overrides=["train.max_minutes=null"])
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 3


def test_checkpoints_every_few_epochs_resume_to_the_same_weights(tmp_path):
    reference, stopped = tmp_path / "reference", tmp_path / "stopped"
    settings = [*QUICK, "train.log_every=1"]
    genlab.train("ae", "digits", epochs=5, run_dir=reference, progress=False, overrides=settings)
    steps_per_epoch = next(r for r in read_metrics(reference / "metrics.jsonl") if r.get("event") == "start")["steps_per_epoch"]

    calls = []

    def stop_in_the_fourth_epoch(model):  # a monitor runs at every logged step; this one fails mid-epoch 4
        calls.append(1)
        if len(calls) == int(3.5 * steps_per_epoch):
            raise RuntimeError("stopped on purpose")
        return {}

    with pytest.raises(RuntimeError, match="stopped on purpose"):
        genlab.train("ae", "digits", epochs=5, run_dir=stopped, progress=False, monitors=[stop_in_the_fourth_epoch],
                     overrides=[*settings, "train.checkpoint_epochs=2"])
    assert load_checkpoint(stopped / "checkpoints" / "last.pt")["epoch"] == 2  # epoch 3's end wrote nothing
    genlab.train(run_dir=stopped, resume=True, progress=False)
    assert load_checkpoint(stopped / "checkpoints" / "last.pt")["epoch"] == 5  # the last epoch always writes
    expected, resumed = (load_file(run / "model" / "model.safetensors") for run in (reference, stopped))
    assert expected.keys() == resumed.keys() and all(torch.equal(expected[k], resumed[k]) for k in expected)
