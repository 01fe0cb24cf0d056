"""Download, verify and cache the course's datasets (chapter: Getting started).

``fetch("fsdd")`` returns a folder under ``data/cache/`` that holds the dataset, downloading it
first if needed. Every file is checked against the SHA-256 in the manifest
(``utils.data.manifest``) and only then moved into place (write to a temporary name, then
rename), so an interrupted or corrupt download never leaves a file that passes for whole.

``COURSE_DATA_MIRROR`` (a folder, ``file://`` URL or ``https://`` base) replaces the canonical
hosts: the mirror holds ``<mirror_path>`` of each resource, e.g. ``fsdd/free-spoken-digit-...``.
The verification is the same either way.

**Several processes at once** (a class on one JupyterHub, two notebooks on one laptop, a
parallel book build): each dataset has an inter-process lock, ``<data folder>/.<name>.lock``.
One process downloads while the others wait (and say so), then find the files in place. The
lock is ``filelock``'s (py-filelock: maintained, used by pip's and Hugging Face's caches, and
portable, where the standard library's ``fcntl.flock`` is POSIX-only); on Linux and macOS it is
an ``flock`` that the kernel releases when its process dies, so a killed download never blocks
the next one. Leftover temporary files are removed only by a process holding the lock, when no
live process can own them. A dataset already in place is returned without writing anything, so
a read-only shared data folder works.

Command line: ``python -m utils.data fetch [NAME ...] [--verify] [--list]``.
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from utils.config import config
from utils.data.manifest import MANIFEST, Dataset, Resource
from utils.files import WRITE_ERRORS

# ----------------------------------------------------------------------------- errors


class DownloadError(RuntimeError):
    """A dataset could not be fetched; the message says what failed and what to do."""


class ChecksumError(DownloadError):
    """A downloaded file is not the file the manifest describes."""


class UnsafeArchiveError(DownloadError):
    """An archive tried to write outside its target folder (``..``, absolute paths, links)."""


def _hint() -> str:
    """What to do when a download fails, depending on whether a mirror is in use."""
    if config.mirror:
        return (
            f"COURSE_DATA_MIRROR is set to {config.mirror!r}: check that it holds the file, laid "
            "out as data/README.md describes, or unset it to use the canonical host."
        )
    return (
        "If this machine is offline, point COURSE_DATA_MIRROR at a folder laid out as "
        "data/README.md describes (for example COURSE_DATA_MIRROR=../shared/data) and run again."
    )


# ----------------------------------------------------------------------------- helpers


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def tree_digest(root: Path, pattern: str) -> tuple[str, int]:
    """One SHA-256 over the files under ``root`` matching ``pattern``, and their total size.

    The digest covers the sorted lines ``"<relative path> <sha256 of the file>\\n"``, so it
    depends on the files' names and bytes, not on how an archive packed them.
    """
    files = sorted(root.glob(pattern))
    lines = "".join(
        f"{p.relative_to(root).as_posix()} {sha256_file(p)}\n" for p in files
    )
    return hashlib.sha256(lines.encode()).hexdigest(), sum(
        p.stat().st_size for p in files
    )


def source_url(resource: Resource, mirror: str | None = None) -> str:
    """The address to download ``resource`` from: the mirror's copy if a mirror is set."""
    mirror = mirror if mirror is not None else config.mirror
    if not mirror:
        return resource.url
    if "://" not in mirror:  # a plain folder
        mirror = Path(mirror).expanduser().resolve().as_uri()
    return mirror.rstrip("/") + "/" + urllib.parse.quote(resource.mirror_path)


def _is_transient(error: Exception) -> bool:
    if isinstance(error, urllib.error.HTTPError):
        return error.code >= 500 or error.code in (408, 429)
    if isinstance(error, urllib.error.URLError) and isinstance(
        error.reason, FileNotFoundError
    ):
        return False  # a file:// mirror without the file: retrying will not help
    return isinstance(error, (urllib.error.URLError, OSError, TimeoutError))


def _download(url: str, dest, *, label: str, progress: bool, timeout: float) -> None:
    """Stream ``url`` into the open binary file ``dest``; raise if the body is cut short."""
    from tqdm.auto import tqdm

    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = response.headers.get("Content-Length")
        total = int(total) if total else None
        received = 0
        with tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            desc=label,
            disable=not progress,
            leave=False,
        ) as bar:
            while block := response.read(1 << 16):
                dest.write(block)
                received += len(block)
                bar.update(len(block))
    if total is not None and received != total:
        raise ConnectionError(f"the server sent {received:,} of {total:,} bytes")


def _download_with_retries(
    url: str,
    dest_dir: Path,
    *,
    label: str,
    retries: int,
    progress: bool,
    timeout: float = 60,
) -> Path:
    """Download ``url`` to a new temporary file in ``dest_dir`` and return its path.

    Transient failures (time-outs, dropped connections, HTTP 5xx) are retried with a growing
    pause; the temporary file is removed whatever happens unless the download completes.
    """
    for attempt in range(retries + 1):
        fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".download-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as dest:
                _download(url, dest, label=label, progress=progress, timeout=timeout)
            return Path(tmp)
        except BaseException as error:
            Path(tmp).unlink(missing_ok=True)
            if not isinstance(error, Exception):
                raise  # KeyboardInterrupt: stop now, nothing left behind
            if attempt < retries and _is_transient(error):
                time.sleep(min(2**attempt, 10))
                continue
            raise DownloadError(
                f"Could not download {label} from {url}: {error}. {_hint()}"
            ) from error
    raise AssertionError("unreachable")


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract a tar archive into ``dest``, refusing members that would land outside it.

    Uses the standard library's ``data`` filter (PEP 706): no absolute paths, no ``..``, no
    links pointing outside ``dest``, no device files.
    """
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    except tarfile.FilterError as error:
        raise UnsafeArchiveError(
            f"Refused to extract {archive.name}: {error}. The archive is not the one the course "
            "expects; delete it and download it again from the canonical host."
        ) from error
    except tarfile.TarError as error:
        raise DownloadError(
            f"{archive.name} is not a readable tar archive: {error}"
        ) from error


def _is_cached(folder: Path, resource: Resource) -> bool:
    """Cheap check that a resource is in place: it exists with the manifest's size."""
    target = folder / resource.target
    if resource.unpack == "tar":
        if not target.is_dir():
            return False
        return (
            sum(p.stat().st_size for p in target.glob(resource.tree_glob))
            == resource.size
        )
    return target.is_file() and target.stat().st_size == resource.size


def _verify(path: Path, resource: Resource, *, url: str, dataset: str) -> None:
    if resource.unpack == "tar":
        digest, size = tree_digest(path, resource.tree_glob)
        what = f"the files {resource.tree_glob} extracted from {url}"
    else:
        digest, size = sha256_file(path), path.stat().st_size
        what = (
            url if resource.unpack == "none" else f"the decompressed content of {url}"
        )
    if digest != resource.sha256:
        raise ChecksumError(
            f"{dataset}: checksum mismatch for {what}: expected sha256 {resource.sha256} "
            f"({resource.size:,} bytes), got {digest} ({size:,} bytes). Nothing was cached. "
            "If you use COURSE_DATA_MIRROR, check that the mirror holds the version described "
            "in data/README.md; otherwise try again later."
        )


def _install(
    resource: Resource, folder: Path, *, dataset: str, retries: int, progress: bool
):
    """Download one resource, unpack and verify it, then move it into place atomically."""
    url = source_url(resource)
    label = f"{dataset}/{Path(resource.mirror_path).name}"
    target = folder / resource.target
    target.parent.mkdir(parents=True, exist_ok=True)
    download = _download_with_retries(
        url, target.parent, label=label, retries=retries, progress=progress
    )
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".staging-"))
    try:
        if resource.unpack == "none":
            ready = download
        elif resource.unpack == "gunzip":
            ready = staging / target.name
            try:
                with gzip.open(download) as src, open(ready, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (OSError, EOFError) as error:  # truncated or not gzip at all
                raise ChecksumError(
                    f"{dataset}: {url} is not a complete gzip file ({error}). Nothing was cached."
                ) from error
        elif resource.unpack == "tar":
            safe_extract(download, staging)
            tops = [p for p in staging.iterdir()]
            if len(tops) != 1 or not tops[0].is_dir():
                raise DownloadError(
                    f"{dataset}: expected one top-level folder in {url}"
                )
            ready = tops[0]
        else:
            raise ValueError(f"unknown unpack mode {resource.unpack!r}")
        _verify(ready, resource, url=url, dataset=dataset)
        if target.is_dir():  # a stale, incomplete extraction: replace it
            shutil.rmtree(target)
        os.replace(ready, target)
    finally:
        download.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def dataset_lock(name: str) -> Iterator[None]:
    """Hold dataset ``name``'s inter-process lock; if another process holds it, say so and wait
    (chapter: Getting started)."""
    lock = FileLock(config.data_dir / f".{name}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(
            f"{name}: waiting for another process to finish fetching {name}...",
            flush=True,
        )
        start = time.perf_counter()
        lock.acquire()  # no time-out: the kernel frees the lock of a process that died
        print(
            f"{name}: waited {time.perf_counter() - start:.1f} s for the other process."
        )
    try:
        yield
    finally:
        lock.release()


def _clean_leftovers(folder: Path) -> None:
    """Remove temporary files left by a killed process (call it holding the dataset's lock:
    then no live process owns them)."""
    for leftover in [*folder.rglob(".download-*.part"), *folder.rglob(".staging-*")]:
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- public API


def dataset_info(name: str) -> Dataset:
    """The manifest entry for ``name``; a clear error for an unknown name."""
    try:
        return MANIFEST[name]
    except KeyError:
        close = difflib.get_close_matches(name, MANIFEST, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Unknown dataset {name!r}.{hint} Known datasets: {', '.join(MANIFEST)}."
        ) from None


def fetch(
    name: str, *, verify: bool = False, retries: int = 3, progress: bool = True
) -> Path:
    """Make sure dataset ``name`` is in the cache and return its folder (chapter: Getting started).

    A file already in place with the right size is trusted (the cache only ever receives
    verified files); ``verify=True`` re-hashes it and fetches it again if it changed. Safe to
    call from several processes at once (see the module docstring).
    """
    dataset = dataset_info(name)
    folder = config.data_dir / name
    if not verify and all(_is_cached(folder, r) for r in dataset.resources):
        return folder  # in place: nothing to write, so a read-only data folder is fine
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with dataset_lock(name):
            _fetch_missing(
                dataset, folder, verify=verify, retries=retries, progress=progress
            )
    except OSError as error:
        if error.errno not in WRITE_ERRORS:
            raise
        raise DownloadError(
            f"Cannot write the {name} dataset into {folder} ({error.strerror}). Set "
            "COURSE_DATA_DIR to a writable folder with enough space and run again."
        ) from error
    return folder


def _fetch_missing(
    dataset: Dataset, folder: Path, *, verify: bool, retries: int, progress: bool
):
    """Install every resource of ``dataset`` not yet in ``folder`` (hold the dataset's lock)."""
    name = dataset.name
    _clean_leftovers(folder)
    for resource in dataset.resources:
        if _is_cached(
            folder, resource
        ):  # perhaps installed by the process we waited for
            if not verify:
                continue
            try:
                _verify(
                    folder / resource.target, resource, url="the cache", dataset=name
                )
                continue
            except ChecksumError:
                print(
                    f"{name}: cached {resource.target} is corrupt; fetching it again."
                )
        _install(resource, folder, dataset=name, retries=retries, progress=progress)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fetch the course's datasets into the cache."
    )
    parser.add_argument(
        "names", nargs="*", help=f"datasets (default: all of {', '.join(MANIFEST)})"
    )
    parser.add_argument(
        "--verify", action="store_true", help="re-hash files already cached"
    )
    parser.add_argument(
        "--list", action="store_true", help="list the datasets and exit"
    )
    args = parser.parse_args(argv)
    if args.list:
        for d in MANIFEST.values():
            print(f"{d.name:15} {d.size / 1e6:7.1f} MB  {d.licence:45} {d.title}")
        return 0
    try:
        for name in args.names or list(MANIFEST):
            start = time.perf_counter()
            folder = fetch(name, verify=args.verify)
            print(f"{name}: ready in {folder} ({time.perf_counter() - start:.1f} s)")
    except (DownloadError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
