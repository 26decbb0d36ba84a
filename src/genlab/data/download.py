"""Fetching dataset files: mirrors tried in order, SHA-256 checks, an atomic cache.

A file only enters the cache after its content has been verified, under its final
name, by an atomic rename; a truncated or corrupt download therefore never lands
there. Checksums are of the *decompressed* content, which is the same on every
mirror, while the compressed bytes differ between them.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from genlab.errors import ChecksumError, DataUnavailableError
from genlab.files import commit

DOWNLOAD_TIMEOUT_S = 30
CHUNK = 1 << 20
MANIFEST = "SHA256SUMS"
FETCH_ERRORS = (OSError, EOFError, zlib.error, http.client.HTTPException, ChecksumError, urllib.error.URLError)


@dataclass(frozen=True)
class DataFile:
    """One file of a named dataset, as cached (decompressed) and as published (`remote`)."""

    name: str
    remote: str
    sha256: str | None  # of the decompressed content; None for archive members (recorded on extraction)


@dataclass(frozen=True)
class Archive:
    """A published archive whose members are the dataset's files (CIFAR-10's binary tarball)."""

    remote: str
    sha256: str  # of the archive itself: the digest its authors' checksum pins down
    members: dict[str, str]  # member path inside the archive -> cached file name


def data_root(override: str | os.PathLike | None = None) -> Path:
    """The dataset cache: `override`, else $GENLAB_DATA, else ~/.cache/genlab."""
    root = override or os.environ.get("GENLAB_DATA") or Path.home() / ".cache" / "genlab"
    return Path(root).expanduser()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def expected_digests(directory: Path, files: Sequence[DataFile]) -> dict[str, str | None]:
    """Digest each cached file must have: published ones, else those recorded at extraction."""
    recorded = read_manifest(directory)
    return {spec.name: spec.sha256 or recorded.get(spec.name) for spec in files}


def verify_cached(dataset: str, directory: Path, files: Sequence[DataFile]) -> list[str]:
    """Check every present file's SHA-256; return the names of missing files.

    Raises ChecksumError naming the first file whose content is wrong.
    """
    missing = []
    for name, expected in expected_digests(directory, files).items():
        path = directory / name
        if not path.is_file():
            missing.append(name)
            continue
        if expected is None:
            raise ChecksumError(
                f"{dataset}: {path} has no recorded checksum; delete {directory} and fetch it again "
                f"(genlab data fetch {dataset})"
            )
        actual = sha256_of(path)
        if actual != expected:
            raise ChecksumError(
                f"{dataset}: {path} is damaged (SHA-256 {actual[:12]}..., expected {expected[:12]}...); "
                f"delete it and run `genlab data fetch {dataset}`"
            )
    return missing


def fetch_files(dataset: str, directory: Path, files: Sequence[DataFile], mirrors: Sequence[str]) -> None:
    """Download each missing file from the first mirror that serves correct content.

    A mirror that cannot be reached at all is not asked again for the other files,
    so an offline machine fails in a fraction of a second.
    """
    with _folder(directory):
        _fetch_each(dataset, directory, files, mirrors)


def _fetch_each(dataset: str, directory: Path, files: Sequence[DataFile], mirrors: Sequence[str]) -> None:
    unreachable: set[str] = set()
    failed: list[str] = []
    reasons: dict[str, str] = {}
    for spec in files:
        if (directory / spec.name).is_file():
            continue
        for mirror in mirrors:
            if mirror in unreachable:
                continue
            try:
                _fetch_one(spec, mirror, directory)
                break
            except FETCH_ERRORS as error:
                reasons.setdefault(_short(mirror), _reason(error))
                if _is_unreachable(error):
                    unreachable.add(mirror)
        else:
            failed.append(spec.remote)
    if failed:
        raise DataUnavailableError(
            f"{dataset}: cannot get {', '.join(failed)} ({'; '.join(f'{m}: {r}' for m, r in reasons.items())}); "
            f"put the published files in a folder and run `genlab data fetch {dataset} --mirror FOLDER`, "
            "or point GENLAB_DATA at a cache that has them"
        )


def fetch_archive(dataset: str, directory: Path, archive: Archive, mirrors: Sequence[str]) -> None:
    """Download an archive, check it, extract only the listed members, record their digests."""
    with _folder(directory):
        _fetch_archive(dataset, directory, archive, mirrors)


def _fetch_archive(dataset: str, directory: Path, archive: Archive, mirrors: Sequence[str]) -> None:
    failures = []
    for mirror in mirrors:
        with tempfile.TemporaryDirectory(dir=directory, prefix=".fetch-") as scratch:
            try:
                packed = Path(scratch) / archive.remote
                _download(mirror, archive.remote, packed)
                actual = sha256_of(packed)
                if actual != archive.sha256:
                    raise ChecksumError(f"archive SHA-256 {actual[:12]}... is not {archive.sha256[:12]}...")
                digests = _extract_members(packed, archive.members, Path(scratch))
                for name in digests:
                    commit(Path(scratch) / name, directory / name)
                write_manifest(directory, {**read_manifest(directory), **digests})
                return
            except (*FETCH_ERRORS, tarfile.TarError) as error:
                failures.append(f"{_short(mirror)}: {_reason(error)}")
    raise DataUnavailableError(
        f"{dataset}: could not get {archive.remote} ({'; '.join(failures)}); "
        f"put it in a folder and run `genlab data fetch {dataset} --mirror FOLDER`"
    )


@contextlib.contextmanager
def _folder(directory: Path) -> Iterator[None]:
    """`directory`, made if missing; when the fetch fails, the folders it made are removed again if still empty."""
    made = [folder for folder in (directory, *directory.parents) if not folder.exists()]  # deepest first
    directory.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def read_manifest(directory: Path) -> dict[str, str]:
    path = directory / MANIFEST
    if not path.is_file():
        return {}
    entries = {}
    for line in path.read_text().splitlines():
        digest, _, name = line.strip().partition("  ")
        if digest and name:
            entries[name] = digest
    return entries


def write_manifest(directory: Path, digests: dict[str, str]) -> None:
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(digests.items()))
    scratch = directory / f".{MANIFEST}.tmp"
    scratch.write_text(text)
    commit(scratch, directory / MANIFEST)


def _fetch_one(spec: DataFile, mirror: str, directory: Path) -> None:
    with tempfile.TemporaryDirectory(dir=directory, prefix=".fetch-") as scratch:
        content = Path(scratch) / spec.name
        local = _local_folder(mirror)
        if local is not None and (local / spec.name).is_file():
            shutil.copyfile(local / spec.name, content)  # the folder holds the decompressed file
        else:
            packed = Path(scratch) / ("download-" + Path(spec.remote).name)
            _download(mirror, spec.remote, packed)
            _decompress(packed, content)
        actual = sha256_of(content)
        if actual != spec.sha256:
            raise ChecksumError(f"content SHA-256 {actual[:12]}... is not {spec.sha256[:12]}...")
        commit(content, directory / spec.name)


def _download(mirror: str, remote: str, target: Path) -> None:
    """Copy `remote` from a URL base or a local folder into `target`, checking its length."""
    local = _local_folder(mirror)
    if local is not None:
        source = local / remote
        if not source.is_file():
            raise FileNotFoundError(f"{remote} not in {local}")
        shutil.copyfile(source, target)
        return
    url = mirror.rstrip("/") + "/" + remote
    request = urllib.request.Request(url, headers={"User-Agent": "genlab"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response, open(target, "wb") as out:
        expected = int(response.headers.get("Content-Length") or 0) or None
        received = 0
        with tqdm(total=expected, unit="B", unit_scale=True, desc=remote, leave=False, disable=None) as bar:
            while block := response.read(CHUNK):
                out.write(block)
                received += len(block)
                bar.update(len(block))
    if expected is not None and received != expected:
        raise EOFError(f"truncated: got {received} of {expected} bytes")


def _decompress(packed: Path, target: Path) -> None:
    if packed.suffix == ".gz":
        with gzip.open(packed, "rb") as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
    else:
        shutil.copyfile(packed, target)


def _extract_members(packed: Path, members: dict[str, str], scratch: Path) -> dict[str, str]:
    """Extract the listed regular-file members by name (never trusting archive paths)."""
    digests = {}
    with tarfile.open(packed, "r:*") as tar:
        for member_path, name in members.items():
            member = tar.getmember(member_path)
            if not member.isfile():
                raise tarfile.TarError(f"{member_path} is not a regular file")
            source = tar.extractfile(member)
            target = scratch / name
            with source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
            digests[name] = sha256_of(target)
    return digests


def _local_folder(mirror: str) -> Path | None:
    if mirror.startswith("file://"):
        return Path(urllib.parse.urlparse(mirror).path)
    if "://" not in mirror:
        return Path(mirror).expanduser()
    return None


def _short(mirror: str) -> str:
    parsed = urllib.parse.urlparse(mirror)
    return parsed.netloc or mirror


def _is_unreachable(error: BaseException) -> bool:
    """No answer at all (name lookup, refused connection, timeout), as opposed to a bad file."""
    return isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError)


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__

