"""Downloads: real MNIST over loopback HTTP, checksums, truncation, offline errors."""

import dataclasses
import gzip
import http.server
import threading
from functools import partial

import pytest
from conftest import shared_dataset

from genlab.data import catalog, dataset
from genlab.data.download import sha256_of
from genlab.errors import ChecksumError, DataUnavailableError


class Server:
    """A loopback HTTP server over a folder that counts requests (and can cut bodies short)."""

    def __init__(self, folder, truncate=False):
        requests = self.requests = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                requests.append(self.path)
                if truncate:
                    body = (folder / self.path.lstrip("/")).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])  # then hang up
                    return
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def with_mirrors(monkeypatch, name, mirrors):
    named = dataclasses.replace(catalog.NAMED_DATASETS[name], mirrors=tuple(mirrors))
    monkeypatch.setitem(catalog.NAMED_DATASETS, name, named)
    monkeypatch.setitem(dataset.NAMED_DATASETS, name, named)
    return named


@pytest.mark.real_data
def test_mnist_downloads_over_http_verifies_and_is_not_fetched_again(monkeypatch, isolated_cache, cli):
    server = Server(shared_dataset("mnist"))
    try:
        with_mirrors(monkeypatch, "mnist", ["http://127.0.0.1:9/unreachable/", server.url])
        mnist = dataset.load_dataset("mnist")
        assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (54000, 6000, 10000)
        assert mnist.shape == (1, 28, 28) and mnist.train.x.dtype.is_floating_point is False
        assert mnist.test.y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the famous first test digits
        assert len(server.requests) == 4
        code, out, _ = cli("data", "verify", "mnist")
        assert code == 0 and "4 files match" in out
        dataset.load_dataset("mnist")
        assert len(server.requests) == 4  # cached files are used, not fetched again
    finally:
        server.close()


def fake_mnist_folder(folder, content=b"not an idx file"):
    folder.mkdir()
    for spec in catalog.MNIST.files:
        with gzip.open(folder / spec.remote, "wb") as handle:
            handle.write(content)
    return folder


def test_checksum_mismatch_never_lands_in_the_cache(tmp_path, monkeypatch, isolated_cache, cli):
    mirror = fake_mnist_folder(tmp_path / "mirror")
    code, _, err = cli("data", "fetch", "mnist", "--mirror", mirror)
    assert code == 2
    assert err.count("\n") == 1 and "SHA-256" in err and "train-images-idx3-ubyte.gz" in err
    assert not (isolated_cache / "mnist").exists()  # no file, no scratch, no empty folder left behind


def test_truncated_http_download_is_discarded(tmp_path, monkeypatch, isolated_cache):
    server = Server(fake_mnist_folder(tmp_path / "mirror", content=b"x" * 100000), truncate=True)
    try:
        with_mirrors(monkeypatch, "mnist", [server.url])
        with pytest.raises(DataUnavailableError, match="cannot get"):
            dataset.load_dataset("mnist")
        assert not (isolated_cache / "mnist").exists()
    finally:
        server.close()


def test_offline_error_names_missing_files_and_the_remedy(monkeypatch, cli):
    with_mirrors(monkeypatch, "fashion-mnist", ["http://127.0.0.1:9/", "http://127.0.0.1:9/other/"])
    code, out, err = cli("train", "ae", "--data", "fashion-mnist", "--run-dir", "never-created")
    assert code == 2 and out == ""
    assert err.startswith("error: fashion-mnist: cannot get train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz")
    assert "--mirror FOLDER" in err and err.count("\n") == 1


@pytest.mark.real_data
def test_corrupted_cache_file_is_detected_on_load(monkeypatch, isolated_cache):
    folder = shared_dataset("mnist")
    dataset.ensure_named_dataset(catalog.MNIST, mirror=str(folder))
    labels = isolated_cache / "mnist" / "t10k-labels-idx1-ubyte"
    data = bytearray(labels.read_bytes())
    data[100] ^= 0xFF
    labels.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="t10k-labels-idx1-ubyte is damaged"):
        dataset.load_dataset("mnist", download=False)


def test_cifar_archive_is_checked_extracted_and_recorded(tmp_path, monkeypatch, isolated_cache):
    import io
    import tarfile

    import numpy as np

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive_path = mirror / "cifar-10-binary.tar.gz"
    rng = np.random.default_rng(0)
    with tarfile.open(archive_path, "w:gz") as tar:
        for member in catalog.CIFAR10_MEMBERS:
            rows = rng.integers(0, 256, size=(4, 3073), dtype=np.uint8)
            rows[:, 0] %= 10
            payload = rows.tobytes()
            info = tarfile.TarInfo(member)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    named = dataclasses.replace(
        catalog.CIFAR10, mirrors=(str(mirror),),
        archive=dataclasses.replace(catalog.CIFAR10.archive, sha256=sha256_of(archive_path)),
    )
    monkeypatch.setitem(catalog.NAMED_DATASETS, "cifar10", named)
    monkeypatch.setitem(dataset.NAMED_DATASETS, "cifar10", named)
    cifar = dataset.load_dataset("cifar10")
    assert cifar.shape == (3, 32, 32) and len(cifar.test) == 4 and len(cifar.train) + len(cifar.val) == 20
    assert (isolated_cache / "cifar10" / "SHA256SUMS").is_file()
    (isolated_cache / "cifar10" / "test_batch.bin").write_bytes(b"\0" * 3073)
    with pytest.raises(ChecksumError, match="test_batch.bin is damaged"):
        dataset.load_dataset("cifar10")
    wrong = dataclasses.replace(named, archive=dataclasses.replace(named.archive, sha256="0" * 64))
    monkeypatch.setitem(dataset.NAMED_DATASETS, "cifar10", wrong)
    for path in (isolated_cache / "cifar10").iterdir():
        path.unlink()
    with pytest.raises(DataUnavailableError, match="archive SHA-256"):
        dataset.load_dataset("cifar10")
    assert list((isolated_cache / "cifar10").iterdir()) == []
