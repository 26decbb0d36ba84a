"""The compression benchmark's shared-container view: what it strips is shared, and every file rebuilds."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from conftest import REPO
from PIL import Image, features

sys.path.insert(0, str(REPO / "benchmarks"))
from containers import SPLITTERS, leb128_size, shared_view  # noqa: E402

sys.path.remove(str(REPO / "benchmarks"))


def digits() -> list[np.ndarray]:
    from sklearn.datasets import load_digits

    images = load_digits().images[:40]  # 8x8, 0..16
    return [np.kron((image * 15).astype(np.uint8), np.ones((3, 3), np.uint8)) for image in images]  # 24x24


def encoded(codec: str, quality: int) -> list[bytes]:
    files = []
    for image in digits():
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format={"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}[codec], quality=quality)
        files.append(buffer.getvalue())
    return files


@pytest.mark.parametrize("codec", ["webp", "jpeg", "avif"])
def test_each_file_rebuilds_from_the_shared_part_and_its_own_bytes(codec):
    if codec == "avif" and not features.check("avif"):
        pytest.skip("this Pillow has no AVIF support")
    files = encoded(codec, 20)
    split, join = SPLITTERS[codec]
    shared = {split(data)[0] for data in files}
    assert len(shared) == 1  # the stripped headers really are the same for every image
    for data in files:
        head, own = split(data)
        assert join(head, own) == data
        assert len(own) < len(data)
    view = shared_view(files, codec)
    total = sum(len(split(d)[1]) + leb128_size(len(split(d)[1])) for d in files) + view["shared_bytes"]
    assert view["bytes_per_image"] == pytest.approx(total / len(files), abs=0.01)
    assert view["bytes_per_image"] < np.mean([len(d) for d in files])


def test_a_header_that_differs_between_files_is_not_counted_once():
    files = encoded("jpeg", 20)
    other = encoded("jpeg", 80)[:1]  # other quantisation tables in its header
    with pytest.raises(ValueError, match="differ"):
        shared_view(files + other, "jpeg")


def test_leb128_sizes():
    assert [leb128_size(v) for v in (0, 127, 128, 16383, 16384)] == [1, 1, 2, 2, 3]
