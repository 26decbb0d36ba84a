"""Applications: compression, denoising, inpainting, anomaly detection, embeddings, latent maps."""

import struct
import zlib

import numpy as np
import pytest
import torch
from conftest import QUICK
from PIL import Image
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.metrics import roc_auc_score

import genlab
from genlab.apps import AnomalyDetector, Embedder, compress, decompress, denoise, inpaint
from genlab.apps.codec import model_sha256
from genlab.apps.latent import grid_codes, interpolation_codes, traversal_codes
from genlab.data.corruption import corrupt
from genlab.errors import GenlabError


def psnr(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / (reference - estimate).square().mean()))


@pytest.fixture(scope="module")
def digits_test():
    data = genlab.data.load_dataset("digits")
    return data.preprocessing(data.test.x), data.test.y  # model space: [0, 1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("apps")
    settings = {"vae": ["model.latent_dim=8"], "ae": ["model.latent_dim=8"],
                "dae": ["model.latent_dim=16", "model.noise=gaussian", "model.noise_level=0.3"],
                "linear": ["model.arch=linear", "model.latent_dim=40", "model.reconstruction_loss=mse"]}
    for name, extra in settings.items():
        genlab.train("ae" if name == "linear" else name, "digits", epochs=30, run_dir=root / name, overrides=[*QUICK, *extra], progress=False)
    return root


# ---- compression ---------------------------------------------------------------------------


def test_compression_round_trip_and_rate_distortion(runs, digits_test):
    model, (x, _) = genlab.load(runs / "vae"), digits_test
    sizes, errors = [], []
    for step in (1.0, 0.3, 0.05):
        blob = compress(model, x, step)
        decoded = decompress(model, blob)
        assert decoded.shape == x.shape
        sizes.append(len(blob))
        errors.append(float((decoded - x).square().mean()))
    assert sizes[0] < sizes[1] < sizes[2]  # a finer step costs bytes...
    assert errors[0] > errors[1] > errors[2]  # ...and buys quality
    # at the finest step the decoding is the model's own reconstruction, up to quantisation
    assert float((decoded - model.reconstruct(x)).abs().max()) < 0.1
    assert sizes[0] / len(x) < 16  # 8 coarse codes per image fit in a few bytes


def test_linear_codec_spends_its_bits_where_the_variance_is(runs, digits_test, monkeypatch):
    # One step for every code of a linear (PCA) autoencoder against standardising each code as the
    # nonlinear codecs do: at no more bytes, the shared step must give the smaller error.
    model, (x, _) = genlab.load(runs / "linear"), digits_test

    def curve():
        points = []
        for step in (4.0, 2.0, 1.0, 0.5, 0.25):
            blob = compress(model, x, step)
            points.append((len(blob), float((decompress(model, blob) - x).square().mean())))
        return points

    shared = curve()
    monkeypatch.setattr(model.config, "arch", "mlp")  # the per-code standardisation
    standardised = curve()
    for size, error in standardised:
        cheaper = [e for s, e in shared if s <= size]
        if cheaper:
            assert min(cheaper) < error
    assert sum(any(s <= size for s, _ in shared) for size, _ in standardised) >= 3


def test_container_follows_the_documented_layout(runs, digits_test):
    """Every field read at the offset the module's docstring gives, not through unpack()."""
    import lzma

    model, (x, _) = genlab.load(runs / "ae"), digits_test
    blob = compress(model, x[:37], 0.25, model_hint="somewhere")
    assert blob[:4] == b"GLZC" and blob[4] == 1 and blob[5] in (1, 2)
    assert blob[6:38].hex() == model_sha256(model)
    count, dims, step, width, rank = struct.unpack_from("<IHfBB", blob, 38)
    assert (count, dims, step, width, rank) == (37, 8, 0.25, 1, 3)
    assert struct.unpack_from("<3H", blob, 50) == (1, 8, 8)
    (hint_length,) = struct.unpack_from("<H", blob, 56)
    assert blob[58 : 58 + hint_length] == b"somewhere"
    (payload_length,) = struct.unpack_from("<I", blob, 58 + hint_length)
    payload = blob[62 + hint_length : 62 + hint_length + payload_length]
    assert 62 + hint_length + payload_length == len(blob) - 4
    assert struct.unpack("<I", blob[-4:])[0] == zlib.crc32(blob[:-4])
    raw = zlib.decompress(payload) if blob[5] == 1 else lzma.decompress(
        payload, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2}])
    codes = np.frombuffer(raw, dtype="<i1").reshape(8, 37).T  # dimension-major int8
    mean, std = model.code_mean, model.code_var.sqrt()
    expected = torch.round((model.encode(x[:37]) - mean) / std / 0.25).to(torch.int64).numpy()
    assert np.array_equal(codes, expected)


def test_small_inputs_get_preset_9es_lzma_stream_without_its_64_mib_dictionary():
    """The dictionary sized to the input changes nothing in the stream, which version-1 readers decode."""
    import lzma

    from genlab.apps.codec import LZMA_FILTERS, lzma_filters

    generator = np.random.default_rng(0)
    for size in (1, 300, 4097, 70_000):
        raw = np.round(generator.laplace(size=size) * 3).astype("<i1").tobytes()
        sized = lzma.compress(raw, format=lzma.FORMAT_RAW, filters=lzma_filters(len(raw)))
        assert sized == lzma.compress(raw, format=lzma.FORMAT_RAW, filters=LZMA_FILTERS)
        assert lzma.decompress(sized, format=lzma.FORMAT_RAW, filters=LZMA_FILTERS) == raw
    assert lzma_filters(300)[0]["dict_size"] == 4096  # LZMA's smallest, not preset 9e's 64 MiB
    assert lzma_filters(10**9)[0]["dict_size"] == 64 << 20  # never above preset 9e's own


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_crafted_headers_with_a_valid_checksum_are_refused(runs, digits_test):
    model, (x, _) = genlab.load(runs / "ae"), digits_test
    body = bytearray(compress(model, x[:5], 0.25)[:-4])
    for offset, value in ((5, 7), (48, 3), (49, 255)):  # coder, value width, rank
        crafted = bytearray(body)
        crafted[offset] = value
        with pytest.raises(GenlabError):
            decompress(model, with_crc(bytes(crafted)))
    bomb = bytearray(body)
    struct.pack_into("<I", bomb, 38, 1)  # announces one image: the payload inflates to far more
    with pytest.raises(GenlabError, match="does not hold"):
        decompress(model, with_crc(bytes(bomb)))
    with pytest.raises(GenlabError, match="end where"):
        decompress(model, with_crc(bytes(body) + b"extra"))
    with pytest.raises(GenlabError, match="step"):
        compress(model, x[:5], float("inf"))


def test_damaged_files_and_wrong_models_are_refused(runs, digits_test):
    model, (x, _) = genlab.load(runs / "vae"), digits_test
    blob = compress(model, x[:20], 0.2)
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0x10
    with pytest.raises(GenlabError, match="damaged"):
        decompress(model, bytes(flipped))
    with pytest.raises(GenlabError):
        decompress(model, blob[: len(blob) - 7])
    with pytest.raises(GenlabError, match="not a genlab compressed file"):
        decompress(model, b"PK\x03\x04" + blob[4:])
    with pytest.raises(GenlabError, match="compressed with model"):
        decompress(genlab.load(runs / "ae"), compress(genlab.load(runs / "dae"), x[:5], 0.2))


def test_compress_cli_writes_pngs_and_refuses_bad_input(runs, digits_test, tmp_path, cli):
    images = tmp_path / "in"
    images.mkdir()
    for i, picture in enumerate(digits_test[0][:3]):
        Image.fromarray((picture[0].numpy() * 255).round().astype(np.uint8)).save(images / f"p{i}.png")
    packed = tmp_path / "p.glz"
    code, out, _ = cli("compress", runs / "vae", images, "-o", packed, "--step", "0.1")
    assert code == 0 and packed.is_file() and "3 samples" in out
    code, _, _ = cli("decompress", packed, "-o", tmp_path / "out")
    assert code == 0 and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p_00000.png", "p_00001.png", "p_00002.png"]
    assert np.asarray(Image.open(tmp_path / "out" / "p_00000.png")).shape == (8, 8)
    damaged = bytearray(packed.read_bytes())
    damaged[-1] ^= 0xFF
    packed.write_bytes(bytes(damaged))
    code, _, err = cli("decompress", packed, "-o", tmp_path / "again")
    assert code == 2 and "damaged" in err and not (tmp_path / "again").exists()
    code, _, err = cli("compress", runs / "vae", tmp_path / "missing.png", "-o", tmp_path / "x.glz")
    assert code == 2 and "no such file" in err and not (tmp_path / "x.glz").exists()
    (tmp_path / "other").mkdir()
    Image.open(images / "p0.png").save(tmp_path / "other" / "p0.png")
    code, _, err = cli("denoise", runs / "dae", images, tmp_path / "other", "-o", tmp_path / "clean")
    assert code == 2 and "both named 'p0'" in err and not (tmp_path / "clean").exists()


# ---- denoising and inpainting -----------------------------------------------------------------


def test_denoising_autoencoder_removes_most_of_the_noise(runs, digits_test):
    x = digits_test[0]
    noisy = corrupt(x, "gaussian", 0.3, "unit", torch.Generator().manual_seed(1))
    cleaned = denoise(genlab.load(runs / "dae"), noisy)
    assert psnr(x, cleaned) > psnr(x, noisy) + 4.0


def test_inpainting_keeps_known_pixels_and_beats_the_mean_fill(runs, digits_test):
    model, x = genlab.load(runs / "vae"), digits_test[0][:100]
    missing = torch.zeros_like(x, dtype=torch.bool)
    missing[..., 4:, :] = True  # the lower half
    filled = inpaint(model, x, missing, steps=200)
    assert torch.equal(filled[~missing], x[~missing])
    mean_fill = torch.where(missing, x[~missing].mean(), x)
    hole_error = lambda estimate: float((estimate - x)[missing].square().mean())  # noqa: E731
    assert hole_error(filled) < 0.6 * hole_error(mean_fill)


def test_inpaint_cli_mask_checks(runs, digits_test, tmp_path, cli):
    np.save(tmp_path / "x.npy", (digits_test[0][:4].numpy() * 16).astype(np.float32))  # digits' own units, 0..16
    mask = np.zeros((8, 8), np.uint8)
    mask[2:6, 2:6] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code, _, _ = cli("inpaint", runs / "ae", tmp_path / "x.npy", "--mask", tmp_path / "mask.png", "-o", tmp_path / "f.npy")
    assert code == 0
    filled, original = np.load(tmp_path / "f.npy"), np.load(tmp_path / "x.npy")
    assert filled.shape == (4, 1, 8, 8) and np.allclose(filled[..., mask == 0], original[..., mask == 0], atol=1e-4)
    np.save(tmp_path / "mask.npy", (mask > 0).astype(np.uint8))  # a plain (H, W) array is one mask too
    code, _, err = cli("inpaint", runs / "ae", tmp_path / "x.npy", "--mask", tmp_path / "mask.npy", "-o", tmp_path / "h.npy")
    assert code == 0, err
    assert np.allclose(np.load(tmp_path / "h.npy")[..., mask == 0], original[..., mask == 0], atol=1e-4)
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "small.png")
    code, _, err = cli("inpaint", runs / "ae", tmp_path / "x.npy", "--mask", tmp_path / "small.png", "-o", tmp_path / "g.npy")
    assert code == 2 and "mask" in err and not (tmp_path / "g.npy").exists()


# ---- anomaly detection ---------------------------------------------------------------------


def test_detector_conventions_and_one_class_auroc():
    digits = load_digits()
    images = digits.images.astype(np.float32)
    normal = images[digits.target == 0]
    detector = AnomalyDetector(model="vae", contamination=0.1, latent_dim=4, hidden=(64,), epochs=60).fit(normal[:150])
    held_out = np.concatenate([normal[150:], images[digits.target != 0][:300]])
    is_anomaly = np.r_[np.zeros(len(normal) - 150), np.ones(300)]
    scores = detector.anomaly_scores(held_out)
    assert roc_auc_score(is_anomaly, scores) > 0.95
    assert np.array_equal(detector.score_samples(held_out), -scores)
    assert np.array_equal(detector.predict(held_out), np.where(scores > detector.threshold_, -1, 1))
    assert np.allclose(detector.decision_function(held_out), detector.threshold_ - scores)
    assert detector.threshold_ == pytest.approx(np.quantile(detector.decision_scores_, 0.9))
    assert abs(detector.labels_.mean() - 0.1) < 0.03  # the contamination share of the training data is flagged
    assert np.allclose(detector.anomaly_scores(held_out), scores)  # scores are reproducible


@pytest.mark.parametrize("score", ["reconstruction", "weighted-reconstruction", "latent", "elbo"])
def test_tabular_records_with_the_minority_class_as_anomalies(score):
    data = load_breast_cancer()
    X, malignant = data.data, data.target == 0
    rng = np.random.default_rng(0)
    benign = rng.permutation(np.flatnonzero(~malignant))
    train, held_out = benign[:250], np.r_[benign[250:], np.flatnonzero(malignant)[:60]]
    model = "vae" if score == "elbo" else "ae"
    detector = AnomalyDetector(model=model, score_by=score, latent_dim=4, hidden=(32,), epochs=80).fit(X[train])
    assert roc_auc_score(malignant[held_out], detector.anomaly_scores(X[held_out])) > 0.85


def test_weighted_reconstruction_flags_a_broken_dependency_that_plain_error_misses(tmp_path):
    # f3 follows f0, which a 1-D code captures; f1 and f2 are noise it cannot. Breaking the f0-f3
    # link costs little plain error but much in units of what training records leave unexplained.
    rng = np.random.default_rng(0)
    f0, f1, f2 = rng.normal(size=(3, 600))
    X = np.stack([f0, f1, f2, f0 + 0.05 * rng.normal(size=600)], axis=1).astype(np.float32)
    broken_link, loud_noise = np.array([[0.0, 0, 0, 1.5]]), np.array([[0.0, 2.5, 0, 0]])
    queries = np.concatenate([broken_link, loud_noise]).astype(np.float32)
    settings = dict(model="ae", latent_dim=1, hidden=(32,), epochs=150, batch_size=64)
    plain = AnomalyDetector(score_by="reconstruction", **settings).fit(X).anomaly_scores(queries)
    weighted = AnomalyDetector(score_by="weighted-reconstruction", **settings).fit(X, run_dir=tmp_path / "w")
    scores = weighted.anomaly_scores(queries)
    assert plain[0] < plain[1] and scores[0] > scores[1]
    weighted.save(tmp_path / "w")
    assert np.allclose(AnomalyDetector.load(tmp_path / "w").anomaly_scores(queries), scores, rtol=1e-5)


def test_detector_refuses_what_it_cannot_do():
    with pytest.raises(GenlabError, match="not fitted"):
        AnomalyDetector().anomaly_scores(np.zeros((3, 4)))
    with pytest.raises(GenlabError, match="contamination"):
        AnomalyDetector(contamination=0.7).fit(np.zeros((10, 4)))
    with pytest.raises(GenlabError, match="needs a VAE"):  # refused before any training
        AnomalyDetector(model="ae", score_by="nll", epochs=10_000).fit(np.random.default_rng(0).normal(size=(20, 3)))


def test_detect_cli_fits_saves_and_scores_rows(tmp_path, cli):
    data = load_breast_cancer()
    benign, malignant = data.data[data.target == 1], data.data[data.target == 0]
    np.save(tmp_path / "normal.npy", benign[:250].astype(np.float32))
    np.savetxt(tmp_path / "new.csv", np.r_[benign[250:290], malignant[:40]], delimiter=",")
    run = tmp_path / "detector"
    code, out, _ = cli("detect", "fit", "--data", tmp_path / "normal.npy", "--run-dir", run, "--model", "ae",
                       "--epochs", "60", "--latent-dim", "4", "--contamination", "0.05", "--quiet")
    assert code == 0 and (run / "detector.json").is_file()
    code, _, _ = cli("detect", "score", run, tmp_path / "new.csv", "-o", tmp_path / "scores.csv")
    assert code == 0
    rows = np.genfromtxt(tmp_path / "scores.csv", delimiter=",", names=True, dtype=None, encoding=None)
    assert len(rows) == 80 and set(rows["anomaly"]) <= {0, 1}
    assert roc_auc_score(np.r_[np.zeros(40), np.ones(40)], rows["score"]) > 0.85
    assert rows["anomaly"][40:].mean() > rows["anomaly"][:40].mean()
    reloaded = AnomalyDetector.load(run)
    assert np.allclose(reloaded.anomaly_scores(np.r_[benign[250:290], malignant[:40]]), rows["score"], rtol=1e-5)
    code, _, err = cli("detect", "score", tmp_path, tmp_path / "new.csv", "-o", tmp_path / "x.csv")
    assert code == 2 and "detector.json" in err and not (tmp_path / "x.csv").exists()


# ---- embeddings ----------------------------------------------------------------------------


def test_embedder_passes_scikit_learns_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    failures = []

    def record(*, estimator, check_name, exception, status, expected_to_fail, expected_to_fail_reason):
        if status == "failed":
            failures.append(f"{check_name}: {exception}")

    check_estimator(Embedder(epochs=2, hidden=(16,), latent_dim=2), on_fail=None, on_skip=None, callback=record)
    assert failures == []


def test_embedder_in_a_pipeline_keeps_what_a_probe_needs():
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    digits = load_digits()
    pipeline = make_pipeline(Embedder(model="ae", latent_dim=8, epochs=40), LogisticRegression(max_iter=2000))
    pipeline.fit(digits.data[:1200], digits.target[:1200])
    assert pipeline.score(digits.data[1200:], digits.target[1200:]) > 0.75  # chance is 0.1
    assert clone(pipeline).get_params()["embedder__latent_dim"] == 8
    assert pipeline[0].transform(digits.data[:5]).shape == (5, 8)


# ---- latent maps ---------------------------------------------------------------------------


def test_latent_codes_for_grids_interpolations_and_traversals():
    class TwoD:
        class config:
            latent_dim = 2

    reference = torch.randn(2000, 2, generator=torch.Generator().manual_seed(0)) * torch.tensor([2.0, 0.5]) + 1.0
    grid = grid_codes(TwoD, reference, steps=5, span=2.0).reshape(5, 5, 2)
    std, mean = reference.std(0), reference.mean(0)
    assert torch.allclose(grid[2, 2], mean, atol=1e-5)  # the centre is the codes' mean
    assert torch.allclose(grid[0, -1], mean + 2.0 * std, atol=1e-5)  # top right: both axes at +span
    line = interpolation_codes(torch.zeros(3), torch.ones(3), steps=5)
    assert torch.equal(line[0], torch.zeros(3)) and torch.equal(line[-1], torch.ones(3))
    swept = traversal_codes(torch.zeros(3), torch.ones(3), dims=[0, 2], steps=4).reshape(2, 4, 3)
    assert torch.all(swept[0, :, 1:] == 0) and torch.all(swept[1, :, :2] == 0)
    assert torch.allclose(swept[0, :, 0], torch.linspace(-3, 3, 4))


@pytest.mark.parametrize("plot", ["scatter", "grid", "interpolate", "traverse"])
def test_latent_cli_draws_each_plot(runs, tmp_path, cli, plot):
    output = tmp_path / f"{plot}.png"
    code, _, err = cli("latent", runs / "vae", "--plot", plot, "-o", output, "--steps", "6")
    assert code == 0, err
    width, height = Image.open(output).size
    assert width > 100 and height > 20


def test_latent_cli_refuses_models_without_codes(tmp_path, cli):
    run = tmp_path / "gan"
    genlab.train("gan", "digits", epochs=1, run_dir=run, overrides=[*QUICK, "model.width=8"], progress=False)
    code, _, err = cli("latent", run, "--plot", "scatter", "-o", tmp_path / "s.png")
    assert code == 2 and "no code space" in err and not (tmp_path / "s.png").exists()
    code, _, err = cli("compress", run, tmp_path, "-o", tmp_path / "c.glz")
    assert code == 2 and "no encoder" in err


@pytest.mark.parametrize("extreme", [40_000, -40_000])
def test_codes_beyond_16_bits_on_either_side_are_refused_with_advice(extreme):
    from genlab.apps.codec import pack

    quantised = np.array([[0, 1], [2, extreme]])
    with pytest.raises(GenlabError, match="step 0.001 is too small for these codes .*; use a larger step"):
        pack(quantised, 0.001, (2,), "0" * 64)
    assert pack(np.array([[0, 1], [2, 32_767]]), 0.001, (2,), "0" * 64)  # the widest that fits
