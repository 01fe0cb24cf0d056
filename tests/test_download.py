"""utils.data.download: verified, atomic downloads from a mirror or a (loopback) host."""

import gzip
import hashlib
import http.server
import io
import os
import tarfile
import threading
from functools import partial
from pathlib import Path

import pytest

from utils.data import download
from utils.data.download import (
    ChecksumError,
    DownloadError,
    UnsafeArchiveError,
    fetch,
    tree_digest,
)
from utils.data.manifest import Dataset, Resource

PAYLOAD = b"ACGT" * 1000


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Temporary files a failed download might have left behind."""
    return [
        p.name
        for p in folder.rglob("*")
        if p.name.startswith((".download-", ".staging-"))
    ]


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """An empty cache folder, no mirror."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder))
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    return folder


@pytest.fixture
def host(tmp_path):
    """A folder standing in for a dataset host, holding a plain, a gzip and a tar file."""
    root = tmp_path / "host"
    (root / "tiny").mkdir(parents=True)
    (root / "tiny" / "seq.txt").write_bytes(PAYLOAD)
    (root / "tiny" / "seq.txt.gz").write_bytes(gzip.compress(PAYLOAD))
    tree = tmp_path / "tree" / "pack-1.0"
    (tree / "recordings").mkdir(parents=True)
    for i in range(3):
        (tree / "recordings" / f"{i}_x_0.wav").write_bytes(bytes([i]) * 100)
    with tarfile.open(root / "tiny" / "pack.tar.gz", "w:gz") as tar:
        tar.add(tree, arcname="pack-1.0")
    return root


def tiny_dataset(base_url: str, *, sha_plain: str = sha(PAYLOAD), tree=None) -> Dataset:
    resources = [
        Resource(
            url=f"{base_url}/tiny/seq.txt",
            mirror_path="tiny/seq.txt",
            target="seq.txt",
            sha256=sha_plain,
            size=len(PAYLOAD),
        ),
        Resource(
            url=f"{base_url}/tiny/seq.txt.gz",
            mirror_path="tiny/seq.txt.gz",
            target="unzipped/seq.txt",
            sha256=sha(PAYLOAD),
            size=len(PAYLOAD),
            unpack="gunzip",
        ),
    ]
    if tree is not None:
        digest, size = tree
        resources.append(
            Resource(
                url=f"{base_url}/tiny/pack.tar.gz",
                mirror_path="tiny/pack.tar.gz",
                target="pack-1.0",
                sha256=digest,
                size=size,
                unpack="tar",
                tree_glob="recordings/*.wav",
            )
        )
    return Dataset(
        name="tiny",
        title="tiny",
        homepage="",
        licence="CC0",
        citation="",
        resources=tuple(resources),
    )


@pytest.fixture
def tree_digest_of_host(tmp_path, host):
    return tree_digest(tmp_path / "tree" / "pack-1.0", "recordings/*.wav")


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        if self.path.endswith("/truncated"):  # promises 4,000 bytes, sends 10, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:10])
            self.wfile.flush()
            self.connection.close()
            return
        super().do_GET()


@pytest.fixture
def http_host(host):
    """A loopback HTTP server serving the host folder; yields its base URL."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_Handler, directory=host)
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


# ----------------------------------------------------------------------------- good downloads


def test_fetch_from_a_file_mirror(monkeypatch, cache, host, tree_digest_of_host):
    monkeypatch.setitem(
        download.MANIFEST,
        "tiny",
        tiny_dataset("https://nowhere.invalid", tree=tree_digest_of_host),
    )
    monkeypatch.setenv("COURSE_DATA_MIRROR", host.as_uri())
    folder = fetch("tiny", progress=False)
    assert (folder / "seq.txt").read_bytes() == PAYLOAD
    assert (folder / "unzipped" / "seq.txt").read_bytes() == PAYLOAD
    assert sorted(p.name for p in (folder / "pack-1.0" / "recordings").iterdir()) == [
        "0_x_0.wav",
        "1_x_0.wav",
        "2_x_0.wav",
    ]
    assert leftovers(folder) == []


def test_mirror_may_be_a_plain_folder_path(monkeypatch, cache, host):
    monkeypatch.setitem(
        download.MANIFEST, "tiny", tiny_dataset("https://nowhere.invalid")
    )
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(host))
    assert (fetch("tiny", progress=False) / "seq.txt").read_bytes() == PAYLOAD


def test_fetch_from_a_loopback_http_host(
    monkeypatch, cache, http_host, tree_digest_of_host
):
    monkeypatch.setitem(
        download.MANIFEST, "tiny", tiny_dataset(http_host, tree=tree_digest_of_host)
    )
    folder = fetch("tiny", progress=False)
    assert (folder / "seq.txt").read_bytes() == PAYLOAD
    assert (folder / "pack-1.0" / "recordings" / "2_x_0.wav").read_bytes() == bytes(
        [2]
    ) * 100


def test_https_style_mirror_base_replaces_the_host(monkeypatch, cache, http_host):
    monkeypatch.setitem(
        download.MANIFEST, "tiny", tiny_dataset("https://nowhere.invalid")
    )
    monkeypatch.setenv("COURSE_DATA_MIRROR", http_host + "/")
    assert (fetch("tiny", progress=False) / "seq.txt").read_bytes() == PAYLOAD


def test_second_fetch_uses_the_cache(monkeypatch, cache, host):
    monkeypatch.setitem(
        download.MANIFEST, "tiny", tiny_dataset("https://nowhere.invalid")
    )
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(host))
    fetch("tiny", progress=False)
    # would fail if it downloaded
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(host / "gone"))
    assert (fetch("tiny", progress=False) / "seq.txt").read_bytes() == PAYLOAD


# ----------------------------------------------------------------------------- failures


def test_checksum_mismatch_is_refused_and_nothing_is_cached(monkeypatch, cache, host):
    monkeypatch.setitem(
        download.MANIFEST,
        "tiny",
        tiny_dataset("https://nowhere.invalid", sha_plain="0" * 64),
    )
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(host))
    with pytest.raises(
        ChecksumError,
        match=r"tiny: checksum mismatch for .*seq\.txt.*expected sha256 0{64}",
    ):
        fetch("tiny", progress=False)
    assert not (cache / "tiny" / "seq.txt").exists()
    assert leftovers(cache) == []


def test_truncated_gzip_is_refused(monkeypatch, cache, host):
    (host / "tiny" / "seq.txt.gz").write_bytes(gzip.compress(PAYLOAD)[:30])
    monkeypatch.setitem(
        download.MANIFEST, "tiny", tiny_dataset("https://nowhere.invalid")
    )
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(host))
    with pytest.raises(ChecksumError, match="not a complete gzip file"):
        fetch("tiny", progress=False)
    assert not (cache / "tiny" / "unzipped" / "seq.txt").exists()
    assert leftovers(cache) == []


def test_truncated_http_body_is_retried_then_reported(monkeypatch, cache, http_host):
    dataset = tiny_dataset(http_host)
    cut = Resource(
        url=f"{http_host}/tiny/truncated",
        mirror_path="tiny/truncated",
        target="seq.txt",
        sha256=sha(PAYLOAD),
        size=len(PAYLOAD),
    )
    monkeypatch.setitem(
        download.MANIFEST, "tiny", Dataset(**{**dataset.__dict__, "resources": (cut,)})
    )
    monkeypatch.setattr(download.time, "sleep", lambda s: None)
    with pytest.raises(
        DownloadError,
        match=r"Could not download tiny/truncated from http://127\.0\.0\.1",
    ):
        fetch("tiny", progress=False, retries=2)
    assert not (cache / "tiny" / "seq.txt").exists()
    assert leftovers(cache) == []


def test_interrupted_download_leaves_no_file(monkeypatch, cache, host):
    def interrupted(url, dest, **kwargs):
        dest.write(PAYLOAD[:100])
        raise KeyboardInterrupt

    monkeypatch.setitem(
        download.MANIFEST, "tiny", tiny_dataset("https://nowhere.invalid")
    )
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(host))
    monkeypatch.setattr(download, "_download", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fetch("tiny", progress=False)
    assert sorted(p.name for p in (cache / "tiny").rglob("*")) == []


def test_offline_without_mirror_says_what_to_do(monkeypatch, cache):
    # Port 9 on loopback ("discard") has no listener: the connection is refused, as offline.
    monkeypatch.setitem(download.MANIFEST, "tiny", tiny_dataset("http://127.0.0.1:9"))
    monkeypatch.setattr(download.time, "sleep", lambda s: None)
    with pytest.raises(DownloadError) as caught:
        fetch("tiny", progress=False, retries=1)
    message = str(caught.value)
    assert "tiny/seq.txt from http://127.0.0.1:9/tiny/seq.txt" in message
    assert "COURSE_DATA_MIRROR" in message and "offline" in message


def test_mirror_missing_a_file_names_the_mirror(monkeypatch, cache, tmp_path):
    monkeypatch.setitem(
        download.MANIFEST, "tiny", tiny_dataset("https://nowhere.invalid")
    )
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path / "empty-mirror"))
    with pytest.raises(
        DownloadError, match="COURSE_DATA_MIRROR is set to .*empty-mirror"
    ):
        fetch("tiny", progress=False)


def test_unknown_dataset_name_suggests_the_right_one():
    with pytest.raises(
        ValueError,
        match="Unknown dataset 'fashion_mnist'. Did you mean 'fashion-mnist'",
    ):
        fetch("fashion_mnist")


def test_unwritable_cache_gives_a_clear_error(monkeypatch, tmp_path, host):
    if (
        os.geteuid() == 0
    ):  # root ignores file modes; sysfs refuses new folders even to root
        target = Path("/sys/course-cache-test")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        target = locked / "cache"
    monkeypatch.setenv("COURSE_DATA_DIR", str(target))
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(host))
    monkeypatch.setitem(
        download.MANIFEST, "tiny", tiny_dataset("https://nowhere.invalid")
    )
    with pytest.raises(
        DownloadError, match="Cannot write the tiny dataset into .*COURSE_DATA_DIR"
    ):
        fetch("tiny", progress=False)


def test_half_written_file_in_the_cache_is_replaced(monkeypatch, cache, host):
    monkeypatch.setitem(
        download.MANIFEST, "tiny", tiny_dataset("https://nowhere.invalid")
    )
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(host))
    (cache / "tiny").mkdir(parents=True)
    (cache / "tiny" / "seq.txt").write_bytes(PAYLOAD[:123])  # wrong size
    # a killed process's leftover
    (cache / "tiny" / ".download-old.part").write_bytes(b"junk")
    folder = fetch("tiny", progress=False)
    assert (folder / "seq.txt").read_bytes() == PAYLOAD
    assert leftovers(folder) == []


def test_verify_detects_a_corrupt_file_of_the_right_size(
    monkeypatch, cache, host, capsys
):
    monkeypatch.setitem(
        download.MANIFEST, "tiny", tiny_dataset("https://nowhere.invalid")
    )
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(host))
    folder = fetch("tiny", progress=False)
    (folder / "seq.txt").write_bytes(b"T" * len(PAYLOAD))
    fetch("tiny", progress=False, verify=True)
    assert (folder / "seq.txt").read_bytes() == PAYLOAD
    assert "corrupt" in capsys.readouterr().out


# ----------------------------------------------------------------------------- archives


def _archive_with(tmp_path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as tar:
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


@pytest.mark.parametrize("kind", ["dotdot", "symlink"])
def test_malicious_archive_is_refused(tmp_path, kind):
    if kind == "dotdot":
        member = tarfile.TarInfo("pack/../../escaped.txt")
    else:
        member = tarfile.TarInfo("pack/link")
        member.type, member.linkname = tarfile.SYMTYPE, "../../../etc/passwd"
    member.size = 0 if kind == "symlink" else 1
    archive = _archive_with(tmp_path, member)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError, match="Refused to extract evil.tar"):
        download.safe_extract(archive, dest)
    assert not (tmp_path / "escaped.txt").exists()


def test_absolute_member_is_kept_inside_the_target(tmp_path):
    member = tarfile.TarInfo(str(tmp_path / "escaped.txt"))  # "/tmp/.../escaped.txt"
    member.size = 1
    dest = tmp_path / "out"
    dest.mkdir()
    # the filter strips the "/"
    download.safe_extract(_archive_with(tmp_path, member), dest)
    assert not (tmp_path / "escaped.txt").exists()
    assert (dest / str(tmp_path).lstrip("/") / "escaped.txt").read_bytes() == b"x"


def test_tree_digest_ignores_packing_but_not_content(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        (root / "recordings").mkdir(parents=True)
        (root / "recordings" / "1.wav").write_bytes(b"one")
        (root / "recordings" / "2.wav").write_bytes(b"two")
    assert tree_digest(a, "recordings/*.wav") == tree_digest(b, "recordings/*.wav")
    (b / "recordings" / "2.wav").write_bytes(b"tw0")
    assert (
        tree_digest(a, "recordings/*.wav")[0] != tree_digest(b, "recordings/*.wav")[0]
    )


# ----------------------------------------------------------------------------- the real datasets


@pytest.mark.parametrize("name", list(download.MANIFEST))
def test_real_dataset_verifies_from_the_mirror(monkeypatch, tmp_path, name):
    mirror = os.environ.get("COURSE_DATA_MIRROR")
    if not mirror:
        pytest.skip("COURSE_DATA_MIRROR is not set (CI sets it to ../shared/data)")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    folder = fetch(name, progress=False)
    for resource in download.MANIFEST[name].resources:
        download._verify(folder / resource.target, resource, url="test", dataset=name)
    assert leftovers(folder) == []
