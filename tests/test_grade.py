"""utils.course.grade: marks come from the grader's own checks of plain-data answers, whatever a
submission prints, patches or edits; each submission runs isolated; one CSV row each."""

import contextlib
import csv
import socket
import threading
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from utils.config import REPO_ROOT
from utils.course import answers, grade, sandbox

ISOLATED = sandbox.isolation_available()
needs_bubblewrap = pytest.mark.skipif(
    not ISOLATED, reason="needs bubblewrap (CI installs it)"
)

SETUP = ("from utils import checks", "setup", {"tags": ["course-setup"]})
CONTEXT = ("hop = 80", "context", {})
CHECK_FIELD = (
    "checks.check_receptive_field(field, [3, 3, 3])",
    "check-field",
    {"tags": ["uses-answer"], "course": {"answers": ["field"]}},
)
CHECK_FRAMES = (
    "checks.check_num_frames(frames, num_samples=4000, hop_length=hop, n_fft=256)",
    "check-frames",
    {"tags": ["uses-answer"], "course": {"answers": ["frames"]}},
)


def notebook(*cells):
    nb = new_notebook(
        cells=[new_code_cell(src, id=cid, metadata=meta) for src, cid, meta in cells]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def answer(source, cid):
    return (source, cid, {"tags": ["solution"]})


def submission(field="7", frames="1 + 4000 // hop", *extra, check_field=CHECK_FIELD):
    """A submission of the two-exercise reference; ``extra`` cells go after the set-up."""
    return notebook(
        SETUP,
        *extra,
        CONTEXT,
        answer(f"field = {field}", "q-field"),
        check_field,
        answer(f"frames = {frames}", "q-frames"),
        CHECK_FRAMES,
    )


def grade_batch(tmp_path, submissions: dict, **kwargs) -> dict:
    folder = tmp_path / "submissions"
    folder.mkdir()
    nbformat.write(submission(), tmp_path / "reference.ipynb")
    for name, nb in submissions.items():
        if isinstance(nb, str):
            (folder / name).write_text(nb)
        else:
            nbformat.write(nb, folder / name)
    out = tmp_path / "results.csv"
    settings = {"timeout": 20, "jobs": 2} | kwargs
    grade.grade_folder(folder, out, reference=tmp_path / "reference.ipynb", **settings)
    with open(out) as f:
        return {row["file"]: row for row in csv.DictReader(f)}


def marks(row) -> tuple[int, int]:
    return int(row["passed"]), int(row["total"])


@needs_bubblewrap
def test_honest_work_and_the_two_cheats(tmp_path):
    forged = "checks.report('receptive field', True, 'right')"
    rows = grade_batch(
        tmp_path,
        {
            "a_right.ipynb": submission(),
            "b_wrong.ipynb": submission("9", "50"),
            # cheat 1: wrong answers, every check cell replaced by a forged pass
            "c_forged.ipynb": notebook(
                SETUP,
                CONTEXT,
                answer("field = 9", "q-field"),
                (forged, "check-field", {"tags": ["uses-answer"]}),
                answer("frames = 50", "q-frames"),
                (
                    forged.replace("receptive field", "number of frames"),
                    "check-frames",
                    {},
                ),
            ),
            # cheat 2: wrong answers and one line that makes every check in the kernel pass
            "d_patched.ipynb": submission(
                "9",
                "50",
                (
                    "checks.report.__globals__['CheckResult'].__bool__ = lambda self: True\n"
                    "_real = checks.report\n"
                    "checks.report = lambda name, passed, feedback: _real(name, True, 'right')",
                    "patch",
                    {},
                ),
            ),
            # cheat 3: the check's other argument changed in the student's kernel
            "e_hop.ipynb": notebook(
                SETUP,
                CONTEXT,
                answer("field = 7", "q-field"),
                CHECK_FIELD,
                ("hop = 100", "late", {}),
                answer("frames = 1 + 4000 // hop", "q-frames"),
                CHECK_FRAMES,
            ),
        },
    )
    assert (
        marks(rows["a_right.ipynb"]) == (2, 2)
        and rows["a_right.ipynb"]["status"] == "ok"
    )
    assert marks(rows["b_wrong.ipynb"]) == (0, 2)
    # what they saw
    assert "you added the kernel sizes" in rows["b_wrong.ipynb"]["feedback"]
    assert marks(rows["c_forged.ipynb"]) == (0, 2)
    assert (
        rows["c_forged.ipynb"]["edited_cells"]
        == "check-field (edited); check-frames (edited)"
    )
    assert marks(rows["d_patched.ipynb"]) == (0, 2)
    assert rows["d_patched.ipynb"]["edited_cells"] == ""
    assert (
        marks(rows["e_hop.ipynb"]) == (1, 1 + 1)
        and "number of frames" in (rows["e_hop.ipynb"]["failed_checks"])
    )
    assert {row["isolation"] for row in rows.values()} == {"bubblewrap"}


@needs_bubblewrap
def test_each_kind_of_broken_submission_gets_its_row(tmp_path):
    rows = grade_batch(
        tmp_path,
        {
            "a_raises.ipynb": notebook(
                SETUP,
                CONTEXT,
                answer("field = 7", "q-field"),
                CHECK_FIELD,
                ("1 / 0", "boom", {}),
                answer("frames = 51", "q-frames"),
                CHECK_FRAMES,
            ),
            "b_slow.ipynb": submission(
                "7", "51", ("import time; time.sleep(60)", "slow", {})
            ),
            "c_deleted.ipynb": notebook(
                SETUP,
                CONTEXT,
                answer("field = 7", "q-field"),
                answer("frames = 51", "q-frames"),
            ),
            "d_garbage.ipynb": "this is not a notebook",
            "e_model.ipynb": submission("object()", "[51.0, 'x']"),  # not plain answers
        },
        timeout=15,
    )
    assert rows["a_raises.ipynb"]["status"] == "error", rows["a_raises.ipynb"]
    assert "ZeroDivisionError" in rows["a_raises.ipynb"]["detail"]
    # credit for the check before the error
    assert marks(rows["a_raises.ipynb"]) == (
        1,
        2,
    )
    assert "check-frames: not reached" in rows["a_raises.ipynb"]["feedback"]
    assert rows["b_slow.ipynb"]["status"] == "timeout" and marks(
        rows["b_slow.ipynb"]
    ) == (0, 2)
    assert marks(rows["c_deleted.ipynb"]) == (2, 2), rows["c_deleted.ipynb"]  # put back
    assert (
        rows["c_deleted.ipynb"]["edited_cells"]
        == "check-field (deleted); check-frames (deleted)"
    )
    assert rows["d_garbage.ipynb"]["status"] == "unreadable"
    assert marks(rows["e_model.ipynb"]) == (0, 2)


@needs_bubblewrap
def test_a_submission_cannot_read_siblings_or_home_or_reach_the_network(tmp_path):
    secret = tmp_path / "instructor" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("the answer key")
    sibling = tmp_path / "submissions" / "a_right.ipynb"
    connections = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def accept():
        server.settimeout(60)
        with contextlib.suppress(OSError):
            connections.append(server.accept())

    threading.Thread(target=accept, daemon=True).start()
    attempts = {
        "b_sibling.ipynb": f"open({str(sibling)!r}).read()",
        "c_secret.ipynb": f"open({str(secret)!r}).read()",
        "d_home.ipynb": (  # the instructor's home shows at most the Python it runs on
            f"import os, sys\nhome = {str(Path.home())!r}\n"
            "seen = set(os.listdir(home)) if os.path.isdir(home) else set()\n"
            "python = {os.path.relpath(p, home).split(os.sep)[0] for p in (sys.prefix, "
            "sys.base_prefix)}\nassert seen <= python, seen"
        ),
        "e_network.ipynb": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), 5)",
        "f_write.ipynb": "import utils\nopen(utils.__file__, 'a').write('# changed')",
    }
    batch = {"a_right.ipynb": submission()}
    batch |= {
        name: submission("7", "51", (code, "snoop", {}))
        for name, code in attempts.items()
    }
    rows = grade_batch(tmp_path, batch)
    server.close()
    assert marks(rows["a_right.ipynb"]) == (2, 2)
    for name, error in [
        ("b_sibling.ipynb", "FileNotFoundError"),
        ("c_secret.ipynb", "FileNotFoundError"),
        ("e_network.ipynb", "ConnectionRefusedError"),
        ("f_write.ipynb", "OSError"),  # read-only file system
    ]:
        assert rows[name]["status"] == "error", rows[name]
        assert rows[name]["detail"].startswith(error), rows[name]["detail"]
        assert marks(rows[name]) == (0, 2)
    assert rows["d_home.ipynb"]["status"] == "ok", rows["d_home.ipynb"]["detail"]
    assert not connections
    assert "the answer key" not in (tmp_path / "results.csv").read_text()


def test_without_isolation_the_grader_says_so(tmp_path, capsys):
    rows = grade_batch(tmp_path, {"a_right.ipynb": submission()}, isolation="")
    assert rows["a_right.ipynb"]["isolation"] == "none"
    assert marks(rows["a_right.ipynb"]) == (2, 2)
    assert "NOT ISOLATED" in capsys.readouterr().err


def test_a_reference_must_declare_answers_and_pass_its_own_checks(tmp_path):
    undeclared = notebook(
        SETUP,
        answer("field = 7", "q"),
        (CHECK_FIELD[0], "c", {"tags": ["uses-answer"]}),
    )
    with pytest.raises(grade.GradingError, match="declares no answers"):
        grade.reference_checks(undeclared)
    folder = tmp_path / "submissions"
    folder.mkdir()
    nbformat.write(submission("9"), tmp_path / "wrong_reference.ipynb")
    with pytest.raises(grade.GradingError, match="fails its own check"):
        grade.grade_folder(
            folder, tmp_path / "r.csv", reference=tmp_path / "wrong_reference.ipynb"
        )


def test_answers_travel_as_plain_data_only():
    import numpy as np
    import torch

    token = "tok:"
    namespace = {
        "n": 3,
        "x": 0.5,
        "s": "ab",
        "t": torch.arange(4.0).reshape(2, 2),
        "a": np.array([1, 2], dtype=np.int16),
        "m": object(),
        "bad": float("nan"),
    }
    printed = []
    exec(
        answers.export_source([*namespace, "absent"], token),
        namespace | {"print": printed.append},
    )
    exported = answers.read_export(printed[0], token)
    assert answers.decode(exported["n"]) == 3 and answers.decode(exported["s"]) == "ab"
    t = answers.decode(exported["t"])
    assert (
        isinstance(t, torch.Tensor)
        and t.dtype == torch.float32
        and t.tolist() == [[0, 1], [2, 3]]
    )
    a = answers.decode(exported["a"])
    assert a.dtype == np.int16 and a.tolist() == [1, 2]
    assert np.isnan(answers.decode(exported["bad"]))
    for name in ("m", "absent"):
        with pytest.raises(ValueError):
            answers.decode(exported[name])
    with pytest.raises(ValueError):
        answers.decode({"tensor": [["rm -rf"]], "dtype": "float32"})  # numbers only
    with pytest.raises(ValueError):
        answers.decode({"__reduce__": "os.system"})
    assert answers.read_export("no marker here", token) is None


def test_feedback_for_a_student_runs_their_notebook_and_prints_the_checks(
    tmp_path, capsys
):
    import yaml

    path = tmp_path / "assignment.ipynb"
    nbformat.write(submission("9"), path)
    assert grade.main(["feedback", str(path)]) == 0
    out = capsys.readouterr().out
    assert "FAIL  receptive field" in out and "PASS  number of frames" in out
    assert "1 of 2 checks pass" in out and "Feedback only" in out
    workflow = yaml.safe_load(
        (REPO_ROOT / "chapters/instructors/classroom-feedback.yml").read_text()
    )
    steps = workflow["jobs"]["checks"]["steps"]
    assert any(
        "python -m utils.course.grade feedback" in s.get("run", "") for s in steps
    )


def test_the_sandbox_binds_the_course_over_its_empty_tmp(tmp_path):
    """CI may check the course out under /tmp: the empty /tmp must be mounted first, so that
    the course's own folders, bound after it, are not hidden beneath it."""
    args = sandbox.bubblewrap_command(tmp_path, ["python"])
    tmpfs = args.index("/tmp", args.index("--tmpfs"))
    binds = [i for i, a in enumerate(args) if a in ("--ro-bind", "--bind")]
    assert binds and all(i > tmpfs for i in binds)
    assert args[args.index("--bind") + 1] == str(tmp_path)  # the one writable folder
