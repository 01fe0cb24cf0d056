"""utils.course.grade: a batch of submissions, good and bad, becomes one CSV."""

import csv

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from utils.course import grade

CHECKS = "from utils import checks\n"


def notebook(*cells):
    nb = new_notebook(cells=[new_code_cell(src, id=cid, metadata=meta) for src, cid, meta in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def write(folder, name, nb):
    nbformat.write(nb, folder / name)


def test_batch_reports_each_kind_of_submission(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    setup = (CHECKS, "setup", {"tags": ["course-setup"]})
    good_check = (
        "checks.check_between('accuracy', 0.9, 0.5, 1.0)",
        "check-1",
        {"tags": ["uses-answer"]},
    )
    bad_check = ("checks.check_receptive_field(9, [3, 3, 3])", "check-2", {"tags": ["uses-answer"]})
    reference = notebook(setup, good_check, bad_check)
    write(tmp_path, "reference.ipynb", reference)
    write(folder, "a_good.ipynb", reference)
    write(folder, "b_raises.ipynb", notebook(setup, good_check, ("1 / 0", "boom", {}), bad_check))
    write(folder, "c_slow.ipynb", notebook(setup, ("import time; time.sleep(60)", "slow", {})))
    write(folder, "d_deleted.ipynb", notebook(setup, good_check))
    (folder / "e_garbage.ipynb").write_text("this is not a notebook")

    out = tmp_path / "results.csv"
    grade.grade_folder(folder, out, timeout=5, reference=tmp_path / "reference.ipynb")
    with open(out) as f:
        rows = {row["file"]: row for row in csv.DictReader(f)}

    assert rows["a_good.ipynb"]["status"] == "ok"
    assert (rows["a_good.ipynb"]["passed"], rows["a_good.ipynb"]["total"]) == ("1", "2")
    assert rows["a_good.ipynb"]["failed_checks"] == "receptive field"
    assert rows["b_raises.ipynb"]["status"] == "error"
    assert "ZeroDivisionError" in rows["b_raises.ipynb"]["detail"]
    assert rows["b_raises.ipynb"]["passed"] == "1"  # credit for the check before the error
    assert rows["c_slow.ipynb"]["status"] == "timeout"
    assert "required cells deleted: check-1, check-2" in rows["c_slow.ipynb"]["detail"]
    assert rows["d_deleted.ipynb"]["status"] == "missing cells"
    assert rows["d_deleted.ipynb"]["detail"] == "required cells deleted: check-2"
    assert rows["e_garbage.ipynb"]["status"] == "unreadable"
