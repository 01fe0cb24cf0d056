"""Shared data folders and concurrent runs: several fetchers at once, a read-only data folder,
a lock left by a killed process, two writers of one results file.

These start real processes (and, for the read-only folder, a private read-only bind mount made
with ``unshare -m``, which needs root, as CI has) on the real datasets from the offline mirror.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import MIRROR
from utils.config import REPO_ROOT

needs_mirror = pytest.mark.skipif(
    not MIRROR.is_dir(), reason="needs the offline mirror beside the repository"
)


def python(code: str, env: dict, **kwargs) -> subprocess.Popen:
    """Start ``python -c code`` in the repository with ``env`` added to this environment."""
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=os.environ | env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def data_env(data_dir, **more) -> dict:
    return {"COURSE_DATA_DIR": str(data_dir), "COURSE_DATA_MIRROR": str(MIRROR)} | more


# ----------------------------------------------------------------------------- fetching


FETCH_AT_THE_SIGNAL = """
import pathlib, sys, time
go = pathlib.Path(sys.argv[1])
while not go.exists():
    time.sleep(0.005)
from utils.data.download import fetch
fetch("fsdd", progress=False)
print("done")
"""


@needs_mirror
def test_several_processes_fetch_one_dataset_into_an_empty_cache(tmp_path):
    """Four processes start fetching FSDD (a 21 MB archive to download, extract and verify) at
    the same moment: all succeed, one downloads, the others wait and say so."""
    data, go = tmp_path / "data", tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", FETCH_AT_THE_SIGNAL, str(go)],
            env=os.environ | data_env(data),
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    time.sleep(1.5)  # let every interpreter start and wait at the line
    go.touch()
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0] * 4, "\n---\n".join(outputs)
    assert all(out.strip().endswith("done") for out in outputs)
    waited = [
        out
        for out in outputs
        if "waiting for another process to finish fetching" in out
    ]
    # one downloaded; some (or all) of the others waited
    assert 1 <= len(waited) <= 3, outputs
    verify = python(
        "from utils.data.download import fetch; fetch('fsdd', verify=True, progress=False)",
        data_env(data),
    )
    assert verify.wait(timeout=120) == 0, verify.stdout.read()
    assert not list((data / "fsdd").glob(".*"))  # no temporary files left behind


HOLD_THE_LOCK_AND_HANG = """
import pathlib, time
from utils.config import config
from utils.data.download import dataset_lock
folder = config.data_dir / "promoters"
folder.mkdir(parents=True, exist_ok=True)
with dataset_lock("promoters"):
    (folder / ".download-dead.part").write_bytes(b"half a file")  # a download cut short
    print("holding", flush=True)
    time.sleep(600)
"""


@needs_mirror
def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path):
    data = tmp_path / "data"
    holder = python(HOLD_THE_LOCK_AND_HANG, data_env(data))
    assert holder.stdout.readline().strip() == "holding"
    # killed mid-download, lock file and .part left behind
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert (data / ".promoters.lock").exists() and (
        data / "promoters/.download-dead.part"
    ).exists()
    start = time.perf_counter()
    fetcher = python(
        "from utils.data import fetch; fetch('promoters', progress=False)",
        data_env(data),
    )
    output = fetcher.communicate(timeout=120)[0]
    assert fetcher.returncode == 0, output
    assert time.perf_counter() - start < 60
    # the kernel released the dead process's lock at once
    assert "waiting" not in output
    assert not (
        data / "promoters/.download-dead.part"
    ).exists()  # its leftover was cleaned
    assert len(list((data / "promoters").glob("*.fa"))) == 5


# ----------------------------------------------------------------------------- read-only data

LOAD_EVERY_TASK = """
import json
from utils.data import load_task
sizes = {}
for name in ("speech", "images", "promoters", "motif_grammar"):
    task = load_task(name)
    sizes[name] = [len(task.train), len(task.val), len(task.test)]
print(json.dumps(sizes))
"""


def can_bind_mount() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return probe.returncode == 0


def run_read_only(folder, code: str, env: dict) -> subprocess.CompletedProcess:
    """Run ``python -c code`` with ``folder`` mounted read-only for that process only."""
    script = (
        f'mount --bind "{folder}" "{folder}" && mount -o remount,ro,bind "{folder}" && '
        f'if touch "{folder}/probe" 2>/dev/null; then echo "still writable"; exit 3; fi && '
        f'exec "{sys.executable}" -c "$CODE"'
    )
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        env=os.environ | env | {"CODE": code},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@needs_mirror
@pytest.mark.skipif(
    not can_bind_mount(), reason="needs root and unshare -m (CI has both)"
)
def test_a_read_only_data_folder_loads_every_task(tmp_path):
    """An instructor filled the data folder; students read it through a read-only mount. Every
    task loads; derived caches go to the per-user cache folder, or stay in memory."""
    data = tmp_path / "data"
    fetch_all = python(
        "from utils.data import fetch\nfor n in ('fsdd', 'fashion-mnist', "
        "'promoters'): fetch(n, progress=False)",
        data_env(data),
    )
    assert fetch_all.wait(timeout=600) == 0, fetch_all.stdout.read()
    quick = {"COURSE_QUICK": "1", "COURSE_DATA_MIRROR": ""}
    user_cache = tmp_path / "home-cache"
    done = run_read_only(
        data,
        LOAD_EVERY_TASK,
        quick | {"COURSE_DATA_DIR": str(data), "XDG_CACHE_HOME": str(user_cache)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sizes = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(sizes) == {"speech", "images", "promoters", "motif_grammar"}
    assert all(n > 0 for split in sizes.values() for n in split)
    # cached there
    assert list((user_cache / "rnn-cnn-course/features").glob("fsdd-*.pt"))
    assert not (
        data / "features"
    ).exists()  # nothing was written into the shared folder
    # no writable cache folder at all: the features are computed in memory, with a note
    nowhere = run_read_only(
        data,
        LOAD_EVERY_TASK,
        quick | {"COURSE_DATA_DIR": str(data), "COURSE_CACHE_DIR": str(data / "c")},
    )
    assert nowhere.returncode == 0, nowhere.stdout + nowhere.stderr
    assert "kept in memory only" in nowhere.stdout
    # a dataset missing from a read-only folder: the clear error that names the setting
    shutil.rmtree(data / "promoters")
    missing = run_read_only(
        data,
        "from utils.data import load_task\nload_task('promoters')",
        quick | {"COURSE_DATA_DIR": str(data), "COURSE_DATA_MIRROR": str(MIRROR)},
    )
    assert (
        missing.returncode != 0
        and "Set COURSE_DATA_DIR to a writable folder" in missing.stderr
    )


# ----------------------------------------------------------------------------- results files

WRITE_MANY_TIMES = """
import json, sys
from utils.files import write_text_atomic
writer, path = sys.argv[1], sys.argv[2]
for i in range(150):
    payload = {"writer": writer, "i": i, "rows": [[writer, i, j] for j in range(3000)]}
    write_text_atomic(path, json.dumps(payload))
"""


def test_two_writers_of_one_results_file_leave_a_complete_file(tmp_path):
    """Two runs write the same summary.json over and over while a reader keeps reading it: the
    reader only ever sees whole files, and the last one standing is whole too."""
    path = tmp_path / "results" / "summary.json"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITE_MANY_TIMES, name, str(path)], cwd=REPO_ROOT
        )
        for name in ("a", "b")
    ]
    reads = 0
    while any(w.poll() is None for w in writers):
        if path.exists():
            payload = json.loads(path.read_text())  # raises on a half-written file
            assert len(payload["rows"]) == 3000
            reads += 1
    assert [w.returncode for w in writers] == [0, 0]
    final = json.loads(path.read_text())
    assert final["i"] == 149 and len(final["rows"]) == 3000
    assert reads > 10  # the reader really raced the writers
    assert [p.name for p in path.parent.iterdir()] == [
        "summary.json"
    ]  # no temporary files
