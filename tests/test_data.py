import tracemalloc

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.data import BatchLoader, load_dataset
from genlab.data.config import DataConfig
from genlab.data.corruption import corrupt
from genlab.data.preprocessing import Preprocessing, fit_preprocessing
from genlab.data.readers import read_array_file, read_cifar_records
from genlab.errors import GenlabError


def test_digits_splits_are_disjoint_complete_and_seeded():
    first = load_dataset("digits")
    again = load_dataset("digits")
    assert first.shape == (1, 8, 8) and first.num_classes == 10 and first.kind == "image"
    assert len(first.train) + len(first.val) + len(first.test) == 1797
    assert first.test_split == "seeded"
    rows = {split: {tuple(row) for row in first.split(split).x.reshape(len(first.split(split)), -1).tolist()}
            for split in ("train", "val", "test")}
    assert len(rows["train"] & rows["test"]) < 5  # digits holds a few exact duplicates, no more
    assert torch.equal(first.test.x, again.test.x)
    other = load_dataset(DataConfig(name="digits", split_seed=1))
    assert not torch.equal(first.test.x, other.test.x)


def test_npy_vectors_are_standardised_with_training_statistics(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 3.0, size=(500, 7)).astype(np.float64)
    np.save(tmp_path / "v.npy", x)
    data = load_dataset(str(tmp_path / "v.npy"))
    assert data.kind == "vector" and data.shape == (7,) and data.num_classes is None
    inputs = data.preprocessing(data.train.x)
    assert inputs.mean(0).abs().max() < 1e-4
    assert (inputs.std(0, unbiased=False) - 1).abs().max() < 1e-3
    assert torch.allclose(data.preprocessing.invert(inputs), data.train.x, atol=1e-4)
    assert data.preprocessing.value_range == "real"


def test_npz_with_published_split_and_nhwc_images(tmp_path):
    rng = np.random.default_rng(1)
    x_train = rng.integers(0, 256, size=(40, 6, 5, 3), dtype=np.uint8)  # N, H, W, C
    x_test = rng.integers(0, 256, size=(10, 6, 5, 3), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x_train=x_train, y_train=np.arange(40) % 4, x_test=x_test, y_test=np.arange(10) % 4)
    data = load_dataset(DataConfig(name=str(tmp_path / "d.npz"), val_fraction=0.25))
    assert data.shape == (3, 6, 5) and data.num_classes == 4 and data.test_split == "published"
    assert len(data.test) == 10 and len(data.val) == 10 and len(data.train) == 30
    assert torch.equal(data.test.x[0], torch.from_numpy(x_test[0].transpose(2, 0, 1)))
    assert data.preprocessing(data.train.x).max() <= 1.0


def test_csv_with_header_and_text_labels(tmp_path):
    lines = ["f1,f2,species,f3"] + [f"{i},{i * 2},{'ab'[i % 2]},{i % 3}" for i in range(30)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    data = load_dataset(DataConfig(name=str(tmp_path / "t.csv"), label_column="species"))
    assert data.shape == (3,) and data.class_names == ["a", "b"]
    assert set(torch.cat([data.train.y, data.val.y, data.test.y]).tolist()) == {0, 1}


def test_image_folder_with_class_subfolders(tmp_path):
    for label, colour in (("cats", 40), ("dogs", 200)):
        (tmp_path / label).mkdir()
        for i in range(6):
            Image.fromarray(np.full((9, 11, 3), colour + i, dtype=np.uint8)).save(tmp_path / label / f"{i}.png")
    data = load_dataset(DataConfig(name=str(tmp_path), test_fraction=0.25, val_fraction=0.0))
    assert data.shape == (3, 9, 11) and data.class_names == ["cats", "dogs"]
    bright = data.train.x.float().mean((1, 2, 3)) > 128
    assert torch.equal(bright, data.train.y == 1)


def test_image_folder_with_mixed_sizes_asks_for_a_size(tmp_path):
    (tmp_path / "a").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "a" / "small.png")
    Image.new("L", (10, 8)).save(tmp_path / "a" / "wide.png")
    with pytest.raises(GenlabError, match="image_size"):
        load_dataset(str(tmp_path))
    data = load_dataset(DataConfig(name=str(tmp_path), image_size=[4, 4], test_fraction=0.5, val_fraction=0.0))
    assert data.shape == (1, 4, 4)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.array([1.0, 2.0, np.nan, 4.0]).reshape(2, 2), "NaN or infinite (first in sample 1)"),
        (np.arange(10.0), "not one sample per row"),
        (np.array([["a", "b"], ["c", "d"]]), "not numbers"),
    ],
)
def test_bad_arrays_are_rejected_with_the_reason(tmp_path, array, message):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(GenlabError) as caught:
        load_dataset(str(tmp_path / "bad.npy"))
    assert message in str(caught.value)


def test_unknown_dataset_name():
    with pytest.raises(GenlabError, match="unknown dataset 'mnsit'"):
        load_dataset("mnsit")


def test_cifar_binary_records_are_read_channel_first(tmp_path):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(3, 3, 32, 32), dtype=np.uint8)
    records = np.concatenate([np.array([[7], [1], [9]], dtype=np.uint8), images.reshape(3, -1)], axis=1)
    records.tofile(tmp_path / "batch.bin")
    x, y = read_cifar_records([tmp_path / "batch.bin"])
    assert y.tolist() == [7, 1, 9]
    assert np.array_equal(x, images)
    (tmp_path / "short.bin").write_bytes(records.tobytes()[:-5])
    with pytest.raises(GenlabError, match="not a CIFAR-10 binary batch"):
        read_cifar_records([tmp_path / "short.bin"])


def test_preprocessing_ranges_and_dynamic_binarisation():
    stored = torch.tensor([[0, 51, 255]], dtype=torch.uint8)
    unit = fit_preprocessing(stored.numpy(), "image", "unit", "none")
    symmetric = fit_preprocessing(stored.numpy(), "image", "symmetric", "none")
    assert torch.allclose(unit(stored), torch.tensor([[0.0, 0.2, 1.0]]))
    assert torch.allclose(symmetric(stored), torch.tensor([[-1.0, -0.6, 1.0]]))
    binary = fit_preprocessing(stored.numpy(), "image", "unit", "dynamic")
    draws = binary(stored.expand(20000, 3))
    assert set(draws.unique().tolist()) == {0.0, 1.0}
    assert draws.mean(0).tolist() == pytest.approx([0.0, 0.2, 1.0], abs=0.01)
    assert Preprocessing.from_dict(unit.to_dict()) == unit
    with pytest.raises(GenlabError, match="binarisation needs data scaled to"):
        fit_preprocessing(stored.numpy(), "image", "symmetric", "dynamic")


def test_batches_cover_each_sample_once_and_shards_are_disjoint():
    x = torch.arange(103).reshape(103, 1).to(torch.float32)
    identity = Preprocessing("real", [1.0], [0.0])
    shards = [BatchLoader(x, None, identity, batch_size=10, shuffle=True, drop_last=True, seed=3, rank=r, world_size=2)
              for r in range(2)]
    seen = [torch.cat([b.x for b in loader.epoch(4)]).flatten().tolist() for loader in shards]
    assert len(seen[0]) == len(seen[1]) == 50  # 51 per rank, cut to whole batches
    assert not set(seen[0]) & set(seen[1])
    assert len(set(seen[0])) == 50
    assert seen[0] != torch.cat([b.x for b in shards[0].epoch(5)]).flatten().tolist()  # a new order every epoch
    resumed = torch.cat([b.x for b in shards[0].epoch(4, start=2)]).flatten().tolist()
    assert resumed == seen[0][20:]


def test_noise_hits_the_requested_fraction():
    torch.manual_seed(0)
    x = torch.full((200, 500), 0.5)
    salted = corrupt(x, "salt_and_pepper", 0.2, "unit")
    assert ((salted == 0).float().mean() - 0.1).abs() < 0.01 and ((salted == 1).float().mean() - 0.1).abs() < 0.01
    masked = corrupt(x, "masking", 0.3, "unit")
    assert ((masked == 0).float().mean() - 0.3).abs() < 0.01
    noisy = corrupt(x, "gaussian", 0.1, "unit")
    assert abs(float((noisy - x).std()) - 0.1) < 0.005 and noisy.min() >= 0 and noisy.max() <= 1


# ---- hostile and degenerate data ---------------------------------------------------------

def test_too_small_data_names_the_minimum_and_fractions_of_zero_still_train_on_it(tmp_path):
    np.save(tmp_path / "one.npy", np.ones((1, 3), np.float32))
    with pytest.raises(GenlabError, match="1 sample is too few for a test split of 0.2 .* at least 3 are needed"):
        load_dataset(str(tmp_path / "one.npy"))
    np.save(tmp_path / "two.npy", np.ones((2, 3), np.float32))
    with pytest.raises(GenlabError, match="val split of 0.1 .* at least 3 are needed; .* data.val_fraction=0"):
        load_dataset(str(tmp_path / "two.npy"))
    data = load_dataset(DataConfig(name=str(tmp_path / "one.npy"), test_fraction=0.0, val_fraction=0.0))
    assert (len(data.train), len(data.val), len(data.test)) == (1, 0, 0)
    three = load_dataset("in-memory", source=np.ones((3, 3), np.float32))
    assert (len(three.train), len(three.val), len(three.test)) == (1, 1, 1)


@pytest.mark.parametrize("shape", [(20, 0), (20, 0, 5), (20, 3, 0, 4)])
def test_samples_without_values_are_refused(tmp_path, shape):
    np.save(tmp_path / "x.npy", np.zeros(shape, np.float32))
    with pytest.raises(GenlabError, match="hold no values"):
        load_dataset(str(tmp_path / "x.npy"))
    with pytest.raises(GenlabError, match="hold no values"):
        load_dataset("in-memory", source=np.zeros(shape, np.float32))


def test_npz_text_test_labels_are_numbered_like_the_training_labels(tmp_path):
    x = np.ones((20, 3), np.float32)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.array(list("ab") * 10), x_test=x[:4], y_test=np.array(["b"] * 4))
    data = load_dataset(DataConfig(name=str(tmp_path / "d.npz"), val_fraction=0.0))
    assert data.class_names == ["a", "b"] and data.test.y.tolist() == [1, 1, 1, 1]
    np.savez(tmp_path / "e.npz", x_train=x, y_train=np.array(list("ab") * 10), x_test=x[:4], y_test=np.array(["c"] * 4))
    with pytest.raises(GenlabError, match="label 'c' does not occur in the training labels"):
        load_dataset(str(tmp_path / "e.npz"))


def test_csv_labels_are_numbers_only_when_every_one_is(tmp_path):
    lines = ["a,label"] + [f"{i},{i % 3}" for i in range(1200)] + ["5,cat"]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    data = load_dataset(str(tmp_path / "t.csv"))
    assert data.class_names == ["0", "1", "2", "cat"]
    (tmp_path / "ids.csv").write_text("a,label\n" + "".join(f"{i},id{i}\n" for i in range(10_001)))
    with pytest.raises(GenlabError, match="10,001 distinct labels, more than the 10,000 classes"):
        load_dataset(str(tmp_path / "ids.csv"))


def test_csv_lines_are_bounded_and_numbers_take_little_more_memory_than_the_file(tmp_path):
    (tmp_path / "line.csv").write_text("1," * (9 << 20) + "1\n")
    with pytest.raises(GenlabError, match="a line longer than 16,777,216 characters"):
        load_dataset(str(tmp_path / "line.csv"))
    (tmp_path / "rows.csv").write_text("".join(f"{i % 97},{i % 89},{i % 83},{i % 79},{i % 73}\n" for i in range(100_000)))
    size = (tmp_path / "rows.csv").stat().st_size
    tracemalloc.start()
    try:
        raw = read_array_file(tmp_path / "rows.csv")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert raw.x_train.shape == (100_000, 5) and peak < 8 * size, (peak, size)


def test_unreadable_images_are_one_line_errors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x00IHDR")  # Pillow: ValueError
    with pytest.raises(GenlabError, match="x.png: not a readable image"):
        load_dataset(str(tmp_path))


def test_hostile_data_in_memory_is_refused_or_read_exactly():
    from torch.utils.data import Dataset as TorchDataset

    class Items(TorchDataset):
        def __init__(self, length, item):
            self.length, self.item = length, item

        def __len__(self):
            return self.length

        def __getitem__(self, index):
            return self.item(index)

    bf16 = load_dataset("in-memory", source=torch.ones(20, 3, dtype=torch.bfloat16))
    assert bf16.shape == (3,) and bf16.train.x.dtype == torch.float32
    cases = [
        (torch.ones(20, 3).to_sparse(), "dense tensor"),
        ([[1, 2], [3]], "rows differ in length"),
        (np.ma.masked_array(np.ones((20, 3)), mask=np.eye(20, 3)), "masked values"),
        (Items(-1, lambda i: torch.zeros(3)), "no usable length"),
        (Items(5, lambda i: {}[i]), "has no item 0"),
        (Items(20, lambda i: (torch.zeros(3), 1.5)), "labels must be whole numbers"),  # once truncated to 1
        (Items(20, lambda i: (torch.zeros(3), 10**12)), "label 1000000000000 is too large"),
        (Items(10**12, lambda i: torch.zeros(1000)), "more than this machine's"),
        ((np.ones((20, 3)), np.full(20, 1e300)), "label 1e+300 is too large"),
    ]
    for source, message in cases:
        with pytest.raises(GenlabError) as caught:
            load_dataset("in-memory", source=source)
        assert message in str(caught.value) and len(str(caught.value).splitlines()) == 1
