"""The user's own data and networks: in-memory inputs of every kind, raw units in and out, mixed-type
tables with text columns and missing values, fingerprints, custom modules, devices."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import genlab
from genlab.apps import AnomalyDetector, decode, encode, reconstruct, sample
from genlab.data.columns import Columns
from genlab.data.tables import UNSEEN, TableEncoding
from genlab.errors import GenlabError

pd = pytest.importorskip("pandas", reason="pandas (an optional dependency) is needed for DataFrame input")

FAST = {"train.epochs": 2, "train.preview_samples": 0, "train.tensorboard": False}


def small_vectors(count=160, features=6, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(count, 2)) @ rng.normal(size=(2, features))).astype(np.float32)


def traffic(count=400, seed=0) -> pd.DataFrame:
    """A small network-connection table: text, numbers, booleans and a few gaps."""
    rng = np.random.default_rng(seed)
    protocol = rng.choice(["tcp", "udp", "icmp"], count, p=[0.7, 0.2, 0.1])
    service = np.where(protocol == "tcp", rng.choice(["http", "smtp", "ftp"], count), "domain_u")
    service = np.where(protocol == "icmp", "ecr_i", service)
    duration = rng.exponential(2.0, count).round(0)
    src_bytes = np.where(service == "http", rng.lognormal(6, 0.5, count), rng.lognormal(4, 0.5, count)).round(0)
    frame = pd.DataFrame({"duration": duration, "protocol_type": protocol, "service": service,
                          "src_bytes": src_bytes, "logged_in": service == "http",
                          "rate": rng.uniform(0, 1, count).round(2)})
    frame.loc[rng.choice(count, 12, replace=False), "rate"] = np.nan
    return frame


class PairDataset(torch.utils.data.Dataset):
    def __init__(self, x, y):
        self.x, self.y = torch.as_tensor(x), torch.as_tensor(y)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return self.x[index], self.y[index]


# ---- every in-memory input type ----------------------------------------------------------

@pytest.mark.parametrize("kind", ["array", "tensor", "tuple", "frame", "dataset"])
def test_every_in_memory_type_trains_encodes_samples_and_detects(kind, tmp_path):
    x = small_vectors()
    y = (x[:, 0] > 0).astype(np.int64)
    data = {"array": x, "tensor": torch.from_numpy(x), "tuple": (x, y),
            "frame": pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])]),
            "dataset": PairDataset(x, y)}[kind]
    model = genlab.train("vae", data=data, run_dir=tmp_path / "run", overrides={**FAST, "model.latent_dim": 2},
                         progress=False)
    assert model.config.dataset == "in-memory"
    recorded = genlab.load(tmp_path / "run")
    assert recorded.config.num_classes == (2 if kind in ("tuple", "dataset") else None)
    codes = encode(model, data[0] if kind == "tuple" else (x if kind == "dataset" else data))
    assert codes.shape == (len(x), 2) and np.isfinite(codes).all()
    drawn = sample(model, 7, seed=3)
    assert len(drawn) == 7
    if kind == "frame":
        assert list(drawn.columns) == [f"f{i}" for i in range(x.shape[1])]
    else:
        assert drawn.shape == (7, x.shape[1]) and drawn.dtype == np.float32
    detector = AnomalyDetector(model="ae", epochs=3, latent_dim=2, contamination=0.1).fit(
        data if kind != "dataset" else x)
    far = np.full((1, x.shape[1]), 25.0, dtype=np.float32)
    probe = pd.DataFrame(far, columns=data.columns) if kind == "frame" else far
    assert detector.predict(probe)[0] == -1  # an anomaly, as scikit-learn writes it


def test_the_run_records_what_it_was_trained_on_and_refuses_other_data(tmp_path):
    x = small_vectors()
    genlab.train("ae", data=x, run_dir=tmp_path / "a", overrides=FAST, progress=False)
    config = (tmp_path / "a" / "config.yaml").read_text()
    assert "in-memory" in config and "sha256" in config and "float32" in config
    with pytest.raises(GenlabError, match="trained on a float32 array of 160x6"):
        genlab.train(config=str(tmp_path / "a" / "config.yaml"), data=x + 1, run_dir=tmp_path / "b", progress=False)
    assert not (tmp_path / "b").exists()
    # the same data reruns; other data does when the record is cleared
    genlab.train(config=str(tmp_path / "a" / "config.yaml"), data=x.copy(), run_dir=tmp_path / "c", progress=False)
    genlab.train(config=str(tmp_path / "a" / "config.yaml"), data=x + 1, run_dir=tmp_path / "d", progress=False,
                 overrides={"data.fingerprint": None})
    # a resumed in-memory run needs its data again, and the same data
    with pytest.raises(GenlabError, match="pass that data again"):
        genlab.train(run_dir=tmp_path / "a", resume=True, epochs=3, progress=False)
    with pytest.raises(GenlabError, match="trained on a float32 array"):
        genlab.train(run_dir=tmp_path / "a", resume=True, epochs=3, data=x * 2, progress=False)
    genlab.train(run_dir=tmp_path / "a", resume=True, epochs=3, data=x, progress=False)


def test_a_changed_data_file_is_refused_on_resume(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, small_vectors())
    genlab.train("ae", data=str(path), run_dir=tmp_path / "run", overrides=FAST, progress=False)
    np.save(path, small_vectors(seed=1))
    with pytest.raises(GenlabError, match="data.fingerprint=null"):
        genlab.train(run_dir=tmp_path / "run", resume=True, epochs=3, progress=False)


def test_unreadable_in_memory_data_gets_one_line_errors():
    with pytest.raises(GenlabError, match="not data genlab can read"):
        genlab.train("ae", data={"x": 1}, progress=False)
    with pytest.raises(GenlabError, match="NaN or infinite"):
        genlab.train("ae", data=np.full((10, 3), np.nan), progress=False)
    with pytest.raises(GenlabError, match="differ in shape"):
        genlab.train("ae", data=[torch.zeros(3), torch.zeros(4)] and _Ragged(), progress=False)


class _Ragged(torch.utils.data.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        return torch.zeros(3 + index)


# ---- raw units in and out -----------------------------------------------------------------

def test_8_bit_images_round_trip_through_preprocess_and_postprocess(tmp_path):
    rng = np.random.default_rng(0)
    images = (rng.random((64, 1, 8, 8)) * 255).astype(np.uint8)
    model = genlab.train("ae", data=images, run_dir=tmp_path / "run", overrides=FAST, progress=False)
    inputs = model.preprocess(images)
    assert inputs.dtype == torch.float32 and inputs.shape == (64, 1, 8, 8)
    assert torch.allclose(inputs, torch.from_numpy(images).float() / 255.0)
    back = model.postprocess(inputs)
    assert back.dtype == np.uint8 and np.array_equal(back, images)
    rebuilt = reconstruct(model, images[:, 0])  # (N, H, W) is read as one channel, and given back as it came
    assert rebuilt.dtype == np.uint8 and rebuilt.shape == (64, 8, 8)
    channels_last = genlab.apps.denoise(model, images.transpose(0, 2, 3, 1))
    assert channels_last.shape == (64, 8, 8, 1)
    codes = encode(model, images)
    assert decode(model, codes).dtype == np.uint8
    cleaned = genlab.apps.denoise(model, images)
    assert cleaned.dtype == np.uint8
    blob = genlab.apps.compress(model, images, 0.1)
    assert genlab.apps.decompress(model, blob, raw=True).dtype == np.uint8


def test_model_space_tensors_stay_in_model_space(tmp_path):
    model = genlab.train("ae", data=small_vectors(), run_dir=tmp_path / "run", overrides=FAST, progress=False)
    x = model.preprocess(small_vectors(8))
    out = genlab.apps.denoise(model, x)
    assert isinstance(out, torch.Tensor) and out.shape == x.shape


# ---- mixed-type tables --------------------------------------------------------------------

def test_a_table_encoding_is_fitted_from_its_columns_and_inverts():
    frame = traffic()
    table = Columns.from_frame(frame)
    encoding = TableEncoding.fit(table)
    kinds = {c.name: c.kind for c in encoding.columns}
    assert kinds == {"duration": "numeric", "protocol_type": "categorical", "service": "categorical",
                     "src_bytes": "numeric", "logged_in": "boolean", "rate": "numeric"}
    assert [c.name for c in encoding.columns if c.missing] == ["rate"]
    assert next(c for c in encoding.columns if c.name == "src_bytes").log  # heavy-tailed counts
    assert json.loads(json.dumps(encoding.to_dict())) == encoding.to_dict()  # plain JSON
    decoded = encoding.decode(encoding.encode(table))
    assert decoded.names == table.names
    for name in ("protocol_type", "service"):
        assert list(decoded.column(name)) == list(table.column(name))
    assert np.allclose(decoded.column("src_bytes"), table.column("src_bytes"), rtol=1e-4)
    assert np.array_equal(np.isnan(decoded.column("rate")), np.isnan(table.column("rate")))
    assert list(decoded.column("logged_in")) == list(frame["logged_in"])


def test_declared_column_types_and_their_mistakes():
    table = Columns(["port", "x"], [np.array([80.0, 443.0, 80.0, 22.0]), np.array([0.5, 1.5, 2.5, 1.0])])
    encoding = TableEncoding.fit(table, {"port": "categorical"})
    assert encoding.columns[0].kind == "categorical" and encoding.columns[0].categories == ["22", "443", "80"]
    with pytest.raises(GenlabError, match="not a column"):
        TableEncoding.fit(table, {"prot": "categorical"})
    with pytest.raises(GenlabError, match="not one of"):
        TableEncoding.fit(table, {"port": "text"})
    with pytest.raises(GenlabError, match="lacks column 'x'"):
        encoding.encode(Columns(["port"], [np.array([80.0])]))


def test_a_vae_on_a_table_gives_records_back_with_their_names_and_categories(tmp_path):
    frame = traffic()
    genlab.train("vae", data=frame, run_dir=tmp_path / "run",
                 overrides={**FAST, "train.epochs": 5, "model.latent_dim": 4}, progress=False)
    loaded = genlab.load(tmp_path / "run")
    assert loaded.config.table is not None
    drawn = sample(loaded, 50, seed=0)
    assert list(drawn.columns) == list(frame.columns)
    assert set(drawn["protocol_type"]) <= {"tcp", "udp", "icmp"}
    assert set(drawn["service"]) <= set(frame["service"])
    assert (drawn["src_bytes"] >= 0).all() and (drawn["src_bytes"] == drawn["src_bytes"].round()).all()
    again = reconstruct(loaded, frame.head(20))
    assert list(again.columns) == list(frame.columns)
    # the likelihood is a proper one per record: finite, and worse for a corrupted record
    x = loaded.preprocess(frame.head(20))
    odd = frame.head(20).copy()
    odd["service"] = np.where(odd["protocol_type"] == "icmp", "http", "ecr_i")  # service that contradicts protocol
    assert torch.isfinite(loaded.elbo(x)).all()
    assert loaded.elbo(loaded.preprocess(odd)).mean() < loaded.elbo(x).mean()


def test_unseen_categories_and_missing_values_are_scored_and_explained():
    frame = traffic(600)
    detector = AnomalyDetector(model="ae", epochs=15, latent_dim=4, contamination=0.05).fit(frame)
    probe = frame.head(6).copy().reset_index(drop=True)
    probe.loc[0, "protocol_type"] = "gre"  # never seen in training
    probe.loc[1, "src_bytes"] = 5e8
    probe.loc[2, "duration"] = np.nan  # a gap where training had none: the mean stands in
    scores = detector.anomaly_scores(probe)
    assert np.isfinite(scores).all()
    assert scores[0] > detector.threshold_ and scores[1] > detector.threshold_
    explained = detector.explain(probe)
    assert list(explained.columns) == list(frame.columns)
    assert np.allclose(explained.sum(axis=1), scores, rtol=1e-4)
    assert explained.iloc[0].idxmax() == "protocol_type"
    assert explained.iloc[1].idxmax() == "src_bytes"
    assert reconstruct(detector.model_, probe.head(1))["protocol_type"].iloc[0] != UNSEEN
    assert detector.model_.postprocess(detector.model_.preprocess(probe.head(1)))["protocol_type"].iloc[0] == UNSEEN


def test_scores_do_not_depend_on_the_batch():
    frame = traffic(300)
    detector = AnomalyDetector(model="vae", score_by="auto", epochs=2, latent_dim=3).fit(frame)
    together = detector.anomaly_scores(frame.head(20))
    alone = np.array([detector.anomaly_scores(frame.iloc[[i]])[0] for i in range(20)])
    assert np.allclose(together, alone, rtol=1e-5)


def test_the_cli_trains_on_a_raw_csv_table_and_writes_records(tmp_path, cli):
    frame = traffic()
    frame.to_csv(tmp_path / "traffic.csv", index=False)
    run = tmp_path / "run"
    code, _, err = cli("train", "vae", "--data", tmp_path / "traffic.csv", "--run-dir", run, "--epochs", "2",
                       "--set", "train.preview_samples=0", "--set", "train.tensorboard=false")
    assert code == 0, err
    assert "table of 6 columns: 3 numeric, 2 categorical, 1 boolean" in err
    assert cli("sample", run, "-n", "10", "-o", tmp_path / "drawn.csv")[0] == 0
    drawn = pd.read_csv(tmp_path / "drawn.csv")
    assert list(drawn.columns) == list(frame.columns) and len(drawn) == 10
    assert set(drawn["protocol_type"]) <= {"tcp", "udp", "icmp"}
    assert set(drawn["logged_in"].astype(str)) <= {"True", "False"}  # written as the input spelled it
    code, _, err = cli("sample", run, "-n", "10", "-o", tmp_path / "drawn.npy")
    assert code != 0 and "write a .csv" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "drawn.npy").exists()
    code, _, err = cli("detect", "fit", "--data", tmp_path / "traffic.csv", "--run-dir", tmp_path / "det",
                       "--model", "ae", "--epochs", "5")
    assert code == 0, err
    probe = frame.head(5).copy()
    probe.loc[0, "service"] = "telnet"
    probe.to_csv(tmp_path / "probe.csv", index=False)
    code, _, err = cli("detect", "score", tmp_path / "det", tmp_path / "probe.csv", "-o", tmp_path / "scores.csv")
    assert code == 0, err
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert len(scores) == 5 and scores["score"].iloc[0] == scores["score"].max()


# ---- custom networks ----------------------------------------------------------------------

CUSTOM_MODULE = textwrap.dedent('''
    import math
    from torch import nn

    class TinyEncoder(nn.Module):
        def __init__(self, features, out_features, width=32):
            super().__init__()
            self.features, self.out_features, self.width = features, out_features, width
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(features, width), nn.Tanh(), nn.Linear(width, out_features))

        def get_config(self):
            return {"features": self.features, "out_features": self.out_features, "width": self.width}

        def forward(self, x):
            return self.net(x)

    class TinyDecoder(nn.Module):
        def __init__(self, latent=2, shape=(1, 8, 8)):
            super().__init__()
            self.latent, self.shape = latent, list(shape)
            self.net = nn.Sequential(nn.Linear(latent, 32), nn.Tanh(), nn.Linear(32, math.prod(shape)),
                                     nn.Unflatten(1, tuple(shape)))

        def get_config(self):
            return {"latent": self.latent, "shape": self.shape}

        def forward(self, z):
            return self.net(z)
''')


@pytest.fixture
def custom_module(tmp_path, monkeypatch):
    (tmp_path / "my_nets.py").write_text(CUSTOM_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_nets

    yield my_nets
    sys.modules.pop("my_nets", None)


def test_custom_encoder_and_decoder_train_save_load_and_sample(tmp_path, custom_module):
    images = (np.random.default_rng(0).random((64, 1, 8, 8)) * 255).astype(np.uint8)
    encoder = custom_module.TinyEncoder(64, 4)  # a VAE's encoder gives mean and log-variance: 2 x latent_dim
    decoder = custom_module.TinyDecoder(2, (1, 8, 8))
    with torch.no_grad():
        decoder.net[0].bias.fill_(0.25)  # the user's starting weights are kept
    model = genlab.train("vae", data=images, run_dir=tmp_path / "run", overrides={**FAST, "train.epochs": 1,
                         "model.latent_dim": 2}, networks={"encoder": encoder, "decoder": decoder}, progress=False)
    assert type(model.encoder).__name__ == "TinyEncoder"
    description = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert description["config"]["networks"]["encoder"] == {"class": "my_nets:TinyEncoder",
                                                             "config": {"features": 64, "out_features": 4, "width": 32}}
    loaded = genlab.load(tmp_path / "run")
    for key, value in model.state_dict().items():
        assert torch.equal(value.cpu(), loaded.state_dict()[key])
    assert sample(loaded, 5).shape == (5, 1, 8, 8)
    genlab.train(run_dir=tmp_path / "run", resume=True, epochs=2, data=images, progress=False)

    # a second process without the class on its path is refused with a clear message, never unpickled
    probe = f"import genlab; genlab.load({str(tmp_path / 'run')!r})"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd="/")
    assert result.returncode != 0
    assert "my_nets:TinyEncoder, which cannot be imported here" in result.stderr


def test_custom_networks_of_the_wrong_shape_are_refused(custom_module):
    x = small_vectors(features=64)
    with pytest.raises(GenlabError, match=r"the encoder maps \(2, 64\) to \(2, 3\); the model .* needs \(2, 4\)"):
        genlab.train("vae", data=x, overrides={**FAST, "model.latent_dim": 2},
                     networks={"encoder": custom_module.TinyEncoder(64, 3)}, progress=False)
    with pytest.raises(GenlabError, match=r"the decoder maps \(2, 2\) to \(2, 1, 8, 8\); the model .* needs \(2, 64\)"):
        genlab.train("vae", data=x, overrides={**FAST, "model.latent_dim": 2},
                     networks={"decoder": custom_module.TinyDecoder(2, (1, 8, 8))}, progress=False)
    with pytest.raises(GenlabError, match="has no 'generator' network"):
        genlab.train("ae", data=x, overrides=FAST, networks={"generator": custom_module.TinyDecoder()}, progress=False)


def test_a_custom_generator_that_cannot_be_imported_is_named_when_loading(tmp_path, custom_module):
    images = (np.random.default_rng(0).random((64, 1, 8, 8)) * 255).astype(np.uint8)
    genlab.train("gan", data=images, run_dir=tmp_path / "gan", overrides={**FAST, "train.epochs": 1, "model.latent_dim": 2,
                 "model.width": 8}, networks={"generator": custom_module.TinyDecoder(2, (1, 8, 8))}, progress=False)
    sys.modules.pop("my_nets")
    sys.path.remove(str(tmp_path))  # as in a process without the user's module on its path
    with pytest.raises(GenlabError, match="this model's generator is the class my_nets:TinyDecoder, which cannot be imported"):
        genlab.load(tmp_path / "gan")


def test_float_images_in_0_1_reach_a_model_trained_on_bytes_as_the_bytes_do(tmp_path):
    images = (np.random.default_rng(0).random((64, 1, 8, 8)) * 255).astype(np.uint8)
    images[:, 0, 0, 0] = 255  # a white pixel in every image: floats of exactly 1.0
    model = genlab.train("ae", data=images, run_dir=tmp_path / "bytes", overrides={**FAST, "train.epochs": 1},
                         progress=False)
    assert torch.allclose(model.preprocess(images.astype(np.float32) / 255), model.preprocess(images), atol=1e-6)


def test_a_class_defined_in_a_function_is_refused_before_training():
    class Local(torch.nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(GenlabError, match="defined inside a function"):
        genlab.train("ae", data=small_vectors(), networks={"encoder": Local()}, progress=False)


# ---- devices --------------------------------------------------------------------------------

def test_device_auto_everywhere(tmp_path, cli):
    model = genlab.train("ae", data=small_vectors(), run_dir=tmp_path / "run", overrides=FAST, device="auto",
                         progress=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert genlab.load(tmp_path / "run", device="auto").device.type == expected
    assert model.device.type == expected
    with pytest.raises(GenlabError, match="unknown device"):
        genlab.load(tmp_path / "run", device="tpu")
    np.save(tmp_path / "x.npy", small_vectors(40))
    code, _, err = cli("reconstruct", tmp_path / "run", "--data", tmp_path / "x.npy", "-n", "4", "-o", tmp_path / "r.npy",
                       "--device", "auto")
    assert code == 0, err
    assert np.load(tmp_path / "r.npy").shape[0] == 4


def test_the_own_data_example_runs(tmp_path):
    from conftest import PYTHON, REPO, subprocess_env

    result = subprocess.run([PYTHON, str(REPO / "examples" / "own_data.py"), "--quick"], capture_output=True, text=True,
                            cwd=tmp_path, env=subprocess_env(), timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "codes (5, 3)" in out and "come back as uint8" in out and "custom encoder: SmallEncoder" in out
    assert "most unusual field: protocol" in out and "most unusual field: bytes" in out
    assert (tmp_path / "runs" / "own-data" / "table" / "model" / "config.json").is_file()


def test_trimmed_training_leaves_the_worst_explained_samples_out_of_the_loss():
    from genlab.models.nets import trimmed_mean

    losses = torch.tensor([1.0, 2.0, 3.0, 100.0])
    assert trimmed_mean(losses, 0.0) == losses.mean()
    assert trimmed_mean(losses, 0.25) == 2.0  # the 100 is left out
    model = genlab.create_model("ae", data_shape=(4,), value_range="real", trim_fraction=0.25)
    x = torch.zeros(4, 4)
    x[3] = 50.0  # one wild sample: with trimming its error does not reach the loss
    trimmed = model(x)["loss"]
    model.config.trim_fraction = 0.0
    assert model(x)["loss"] > 10 * trimmed
    with pytest.raises(GenlabError, match="trim_fraction"):
        genlab.create_model("ae", data_shape=(4,), trim_fraction=0.6)


def test_an_identifier_column_is_refused_not_one_hot_encoded():
    ids = np.array([f"user-{i}" for i in range(400)], dtype=object)
    with pytest.raises(GenlabError, match="column 'user' has 400 distinct values in 400 rows"):
        TableEncoding.fit(Columns(["user", "x"], [ids, np.arange(400.0)]))


class _DictItems(torch.utils.data.Dataset):
    def __len__(self):
        return 3

    def __getitem__(self, index):
        return {"x": index}


def test_careless_inputs_get_one_line_errors(tmp_path):
    noise = np.random.default_rng(0).normal(size=50)
    with pytest.raises(GenlabError, match="declared boolean but holds other values"):
        TableEncoding.fit(Columns(["score"], [noise]), {"score": "boolean"})
    with pytest.raises(GenlabError, match="column 'x' holds inf, which is infinite"):
        TableEncoding.fit(Columns(["x", "c"], [np.array([1.0, 2.0, np.inf]), np.array(["a", "b", "a"], dtype=object)]))
    (tmp_path / "semi.csv").write_text("a;b;c\n1;2;x\n3;4;y\n")
    with pytest.raises(GenlabError, match="save it with commas"):
        genlab.train("ae", data=str(tmp_path / "semi.csv"), progress=False)
    with pytest.raises(GenlabError, match="two columns named 'a'"):
        genlab.train("ae", data=pd.DataFrame(np.ones((20, 2)), columns=["a", "a"]), progress=False)
    with pytest.raises(GenlabError, match="holds dates or times"):
        genlab.train("ae", data=pd.DataFrame({"t": pd.date_range("2026-01-01", periods=20), "x": np.arange(20.0)}),
                     progress=False)
    with pytest.raises(GenlabError, match="Dataset item 0 is a dict"):
        genlab.train("ae", data=_DictItems(), progress=False)
    with pytest.raises(GenlabError, match="networks must be a dict"):
        genlab.train("ae", data=small_vectors(), networks=[torch.nn.Linear(6, 16)], progress=False)


def test_raw_api_checks_counts_and_labels(tmp_path):
    x = small_vectors()
    y = (x[:, 0] > 0).astype(np.int64)
    model = genlab.train("cvae", data=(x, y), run_dir=tmp_path / "run", overrides=FAST, progress=False)
    assert len(sample(model, 3, labels=1)) == 3  # one class for all
    with pytest.raises(GenlabError, match="2 labels for 3 samples"):
        sample(model, 3, labels=[0, 1])
    with pytest.raises(GenlabError, match="whole number"):
        sample(model, 2.5)
    with pytest.raises(GenlabError, match="unknown class 'a' \\(classes: 0, 1\\)"):
        sample(model, 2, labels=["a", "b"])


def test_tables_keep_integers_and_column_order_does_not_matter(tmp_path, caplog):
    frame = traffic(200)
    model = genlab.train("ae", data=frame, run_dir=tmp_path / "run", overrides=FAST, progress=False)
    drawn = sample(model, 5)
    assert drawn["duration"].dtype == np.int64 and drawn["src_bytes"].dtype == np.int64
    reordered = frame[list(reversed(frame.columns))]
    genlab.train(config=str(tmp_path / "run" / "config.yaml"), data=reordered, run_dir=tmp_path / "again",
                 progress=False)  # the same records: columns are matched by name
    with caplog.at_level("WARNING", logger="genlab"):
        model.preprocess(frame.head(3).assign(duration=np.nan))
    assert "column 'duration' has 3 missing values but had none in training" in caplog.text


def test_a_detector_loads_from_the_path_save_returned(tmp_path):
    detector = AnomalyDetector(model="ae", epochs=2, latent_dim=2).fit(small_vectors(), run_dir=tmp_path / "run")
    path = detector.save(tmp_path / "run")
    again = AnomalyDetector.load(path, device="cpu")
    assert np.allclose(again.anomaly_scores(small_vectors(5)), detector.anomaly_scores(small_vectors(5)))


def test_user_network_mistakes_are_one_line(custom_module):
    class Pair(torch.nn.Module):
        def forward(self, x):
            return x, x

    class Broken(torch.nn.Module):
        def get_config(self):
            raise KeyError("width")

    custom_module.Pair, custom_module.Broken = Pair, Broken
    Pair.__qualname__, Pair.__module__ = "Pair", "my_nets"
    Broken.__qualname__, Broken.__module__ = "Broken", "my_nets"
    with pytest.raises(GenlabError, match="returns a tuple; it must return one tensor"):
        genlab.train("ae", data=small_vectors(), networks={"encoder": Pair()}, progress=False)
    with pytest.raises(GenlabError, match=r"get_config\(\) failed \(KeyError"):
        genlab.train("ae", data=small_vectors(), networks={"encoder": Broken()}, progress=False)


def test_classes_named_in_the_training_labels_can_be_asked_for_by_name(tmp_path, cli):
    x = small_vectors()
    names = np.where(x[:, 0] > 0, "Rome", "Paris")
    model = genlab.train("cvae", data=(x, names), run_dir=tmp_path / "run", overrides=FAST, progress=False)
    assert genlab.load(tmp_path / "run").config.class_names == ["Paris", "Rome"]
    assert len(sample(model, 4, labels=["Rome", "Paris", "Rome", "Rome"])) == 4
    with pytest.raises(GenlabError, match="unknown class 'Oslo' \\(classes: Paris, Rome\\)"):
        sample(model, 2, labels="Oslo")
    code, _, err = cli("sample", tmp_path / "run", "--class", "Rome", "-n", "3", "-o", tmp_path / "rome.npz")
    assert code == 0, err
    assert (np.load(tmp_path / "rome.npz")["y"] == 1).all()
