"""The named datasets: where they are published, their checksums, how to read them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genlab.data.download import Archive, DataFile, data_root, verify_cached
from genlab.data.readers import RawArrays, read_cifar_records, read_mnist_layout
from genlab.errors import GenlabError


@dataclass(frozen=True)
class NamedDataset:
    name: str
    description: str
    shape: tuple[int, ...]
    class_names: tuple[str, ...]
    read: Callable[[Path], RawArrays] | None  # (folder) -> arrays; None for a set of audio clips
    mirrors: tuple[str, ...] = ()
    files: tuple[DataFile, ...] = ()
    archive: Archive | None = None
    license: str = ""
    download_size: str = ""
    citation: str = field(default="", repr=False)
    # a set of audio clips: (folder) -> (clip files, labels, which are test clips), read as spectrograms by a
    # front end of these settings (`shape` is its); data.audio replaces them, with the rest chosen from the clips
    clips: Callable[[Path], tuple[list[Path], np.ndarray, np.ndarray]] | None = None
    front_end: dict | None = None

    @property
    def needs_files(self) -> bool:
        return bool(self.files)


def _idx_files(digests: dict[str, str]) -> tuple[DataFile, ...]:
    return tuple(DataFile(name, name + ".gz", digest) for name, digest in digests.items())


def _read_digits(_: Path) -> RawArrays:
    # scikit-learn takes about a second to import: only when the digits are read
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # pixel counts 0..16 -> [0, 1]
    return RawArrays(images, digits.target.astype(np.int64))


def _read_cifar10(directory: Path) -> RawArrays:
    x_train, y_train = read_cifar_records([directory / f"data_batch_{i}.bin" for i in range(1, 6)])
    x_test, y_test = read_cifar_records([directory / "test_batch.bin"])
    return RawArrays(x_train, y_train, x_test, y_test)


MNIST = NamedDataset(
    name="mnist",
    description="MNIST handwritten digits: 60,000 train + 10,000 test, 1x28x28 grey, 10 classes",
    shape=(1, 28, 28),
    class_names=tuple(str(i) for i in range(10)),
    read=read_mnist_layout,
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    files=_idx_files(
        {
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        }
    ),
    license="CC BY-SA 3.0",
    download_size="11 MB",
)

FASHION_MNIST = NamedDataset(
    name="fashion-mnist",
    description="Fashion-MNIST clothing: 60,000 train + 10,000 test, 1x28x28 grey, 10 classes",
    shape=(1, 28, 28),
    class_names=(
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
    read=read_mnist_layout,
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    files=_idx_files(
        {
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        }
    ),
    license="MIT",
    download_size="30 MB",
)

CIFAR10_MEMBERS = {
    f"cifar-10-batches-bin/{name}": name
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
}

CIFAR10 = NamedDataset(
    name="cifar10",
    description="CIFAR-10 (binary version): 50,000 train + 10,000 test, 3x32x32 colour, 10 classes",
    shape=(3, 32, 32),
    class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    read=_read_cifar10,
    mirrors=("https://www.cs.toronto.edu/~kriz/", "https://cave.cs.toronto.edu/kriz/"),
    files=tuple(DataFile(name, "cifar-10-binary.tar.gz", None) for name in CIFAR10_MEMBERS.values()),
    archive=Archive(
        remote="cifar-10-binary.tar.gz",
        sha256="c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
        members=CIFAR10_MEMBERS,
    ),
    license="see https://www.cs.toronto.edu/~kriz/cifar.html",
    download_size="163 MB",
)

FSDD_TEST_INDICES = range(5)  # the dataset's authors hold out each speaker's takes 0-4 of every digit


@functools.cache
def _fsdd_files() -> tuple[DataFile, ...]:
    """The 3,000 clips and their SHA-256, as listed in the package's fsdd.sha256 (the dataset's own layout)."""
    listing = (Path(__file__).with_name("fsdd.sha256")).read_text().split()
    return tuple(DataFile(name, "recordings/" + name, digest) for digest, name in zip(listing[::2], listing[1::2]))


def _fsdd_clips(directory: Path) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """The clips, their digits, and which are test clips (takes 0-4)."""
    files = [directory / spec.name for spec in _fsdd_files()]
    digit, take = zip(*((int(f.stem.split("_")[0]), int(f.stem.split("_")[2])) for f in files))
    return files, np.array(digit, dtype=np.int64), np.isin(np.array(take), list(FSDD_TEST_INDICES))


DIGITS = NamedDataset(
    name="digits",
    description="scikit-learn's bundled 8x8 digits: 1,797 images, 1x8x8 grey, 10 classes (offline)",
    shape=(1, 8, 8),
    class_names=tuple(str(i) for i in range(10)),
    read=_read_digits,
    license="CC BY 4.0 (UCI)",
    download_size="bundled",
)

FSDD = NamedDataset(
    name="fsdd",
    description="Free Spoken Digit Dataset: 3,000 clips at 8 kHz (6 speakers x 10 digits x 50 takes; takes 0-4 "
                "are the test split), read as 1x64x128 log-mel spectrograms by default (data.audio), 10 classes",
    shape=(1, 64, 128),
    class_names=tuple(str(i) for i in range(10)),
    read=None,
    clips=_fsdd_clips,
    front_end={"rate": 8000, "n_fft": 256, "hop": 64, "samples": 8128},
    mirrors=("https://raw.githubusercontent.com/Jakobovski/free-spoken-digit-dataset/master/",),
    files=_fsdd_files(),
    license="CC BY-SA 4.0",
    download_size="21 MB",
)

NAMED_DATASETS: dict[str, NamedDataset] = {d.name: d for d in (DIGITS, MNIST, FASHION_MNIST, CIFAR10, FSDD)}


def get_named_dataset(name: str) -> NamedDataset:
    try:
        return NAMED_DATASETS[name]
    except KeyError:
        raise GenlabError(f"unknown dataset '{name}' (named datasets: {', '.join(NAMED_DATASETS)})") from None


def cache_state(named: NamedDataset, root: Path) -> str:
    """How much of `named` the cache under `root` holds: bundled, cached, or 'k/n files'."""
    if not named.needs_files:
        return "bundled"
    present = sum((root / named.name / f.name).is_file() for f in named.files)
    return "cached" if present == len(named.files) else f"{present}/{len(named.files)} files"


def verify_named(named: NamedDataset, root: str | Path | None = None) -> Path:
    """Check the SHA-256 of every cached file of `named`; return its folder, or say what is missing."""
    directory = data_root(root) / named.name
    missing = verify_cached(named.name, directory, named.files)
    if missing:
        raise GenlabError(f"{named.name}: {', '.join(missing)} missing from {directory}; run `genlab data fetch {named.name}`")
    return directory
