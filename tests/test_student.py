"""utils.course.student: the student edition keeps everything but the solutions."""

import json
import subprocess

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from utils.course import student
from utils.course.notebooks import notebooks


def instructor_notebook():
    return new_notebook(
        cells=[
            new_markdown_cell("# Title"),
            new_code_cell("import math", metadata={"tags": ["course-setup"]}),
            new_markdown_cell(
                "```{exercise} Frames\n:label: ex-frames\n\nHow many frames?\n```"
            ),
            new_markdown_cell("````{solution-start} ex-frames\n:class: dropdown\n````"),
            new_markdown_cell("One frame every hop: 1 + (8000 - 256) // 80 = 97."),
            new_code_cell(
                "frames = 1 + (8000 - 256) // 80", metadata={"tags": ["solution"]}
            ),
            new_markdown_cell("````{solution-end}\n````"),
            new_code_cell(
                "checks.check_between('frames', frames, 90, 100)",
                metadata={"tags": ["uses-answer"]},
            ),
            new_markdown_cell("```{exercise} Square\n:label: ex-square\n```"),
            new_code_cell(
                "def square(x):\n    # BEGIN SOLUTION\n    return x * x\n    # END SOLUTION",
                metadata={"tags": ["solution"]},
                outputs=[
                    {"output_type": "stream", "name": "stdout", "text": "secret\n"}
                ],
            ),
            new_code_cell("print('ordinary cell')"),
        ]
    )


def test_stub_source_keeps_the_skeleton():
    source = "def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\n"
    assert student.stub_source(source, "ex-1") == (
        'def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError("Exercise ex-1")'
    )
    assert student.stub_source("y = 2", "ex-2").endswith(
        'NotImplementedError("Exercise ex-2")'
    )


def test_student_notebook_removes_solutions_and_keeps_the_rest():
    original = instructor_notebook()
    edition = student.student_notebook(original)
    sources = ["".join(c["source"]) for c in edition["cells"]]
    text = "\n".join(sources)
    assert "1 + (8000 - 256) // 80" not in text and "return x * x" not in text
    assert "One frame every hop" not in text and "solution-start" not in text
    assert "secret" not in json.dumps(edition)
    assert 'raise NotImplementedError("Exercise ex-frames")' in text
    assert (
        'def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError("Exercise ex-square")'
        in text
    )
    assert "print('ordinary cell')" in sources and "How many frames?" in text
    stubs = [c for c in edition["cells"] if "stub" in c["metadata"].get("tags", [])]
    assert len(stubs) == 2 and all("nbval-skip" in c["metadata"]["tags"] for c in stubs)
    check = next(
        c for c in edition["cells"] if "uses-answer" in c["metadata"].get("tags", [])
    )
    assert "nbval-skip" in check["metadata"]["tags"]
    assert "student edition" in sources[1]
    assert len(original["cells"]) == 11  # the input is left alone
    nbformat.validate(nbformat.from_dict(edition))


def test_solution_lines_finds_what_must_not_leak():
    lines = student.solution_lines(instructor_notebook())
    assert "frames = 1 + (8000 - 256) // 80" in lines and "return x * x" in lines
    assert "def square(x):" not in lines  # the skeleton is not a secret


def test_leak_check_sees_every_solution_block_in_a_cell():
    """Two answers in one cell: the stripper removes both, so the leak check must know both."""
    source = (
        "def area(r):\n    # BEGIN SOLUTION\n    return math.pi * r * r\n    # END SOLUTION\n\n"
        "def volume(r):\n    # BEGIN SOLUTION\n"
        "    return 4 / 3 * math.pi * r**3\n    # END SOLUTION"
    )
    notebook = new_notebook(
        cells=[new_code_cell(source, metadata={"tags": ["solution"]})]
    )
    secret = student.solution_lines(notebook)
    assert secret == {"return math.pi * r * r", "return 4 / 3 * math.pi * r**3"}
    stub = student.stub_source(source, "ex-1")
    assert stub.count("NotImplementedError") == 2 and "def volume(r):" in stub
    assert not any(line in stub for line in secret)


@pytest.mark.parametrize(
    "source",
    [
        "# BEGIN SOLUTION\nx = 1\n# BEGIN SOLUTION\ny = 2\n# END SOLUTION",  # nested
        "x = 1\n# END SOLUTION",  # end before begin
        "# BEGIN SOLUTION\nx = 1",  # never closed
    ],
)
def test_malformed_solution_markers_are_errors(source):
    with pytest.raises(ValueError, match="SOLUTION"):
        student.stub_source(source, "ex-1")


def test_real_chapters_student_edition_has_no_solution_code(tmp_path):
    written = student.write_student_edition(tmp_path)
    assert len(written) == len(notebooks())
    for source, target in zip(notebooks(), written, strict=True):
        secret = student.solution_lines(json.loads(source.read_text()))
        edition = json.loads(target.read_text())
        code = {
            line.strip()
            for cell in edition["cells"]
            for line in "".join(cell["source"]).splitlines()
        }
        assert not (secret & code), f"{target}: solution lines leaked: {secret & code}"
        nbformat.validate(nbformat.read(target, as_version=4))


# ----------------------------------------------------------------------------- the branch


def git(repo, *args):
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def course_repo(tmp_path, monkeypatch):
    """A tiny course repository: one chapter notebook with solutions, one other file."""
    for key, value in {"NAME": "Course Test", "EMAIL": "course@example.org"}.items():
        monkeypatch.setenv(f"GIT_AUTHOR_{key}", value)
        monkeypatch.setenv(f"GIT_COMMITTER_{key}", value)
    repo = tmp_path / "course"
    (repo / "chapters" / "01_x").mkdir(parents=True)
    (repo / "chapters" / "01_x" / "x.ipynb").write_text(
        json.dumps(instructor_notebook())
    )
    (repo / "README.md").write_text("# Course\n")
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "add", "chapters", "README.md")
    git(repo, "commit", "-q", "-m", "instructor edition")
    return repo


def test_student_branch_has_no_solutions_and_leaves_the_checkout_alone(course_repo):
    repo, path = course_repo, "chapters/01_x/x.ipynb"
    # uncommitted work of every kind, which must survive untouched
    (repo / "README.md").write_text("# Course, edited\n")
    (repo / "new.txt").write_text("staged\n")
    git(repo, "add", "new.txt")
    status, index = (
        git(repo, "status", "--porcelain"),
        (repo / ".git" / "index").read_bytes(),
    )
    head, notebook_text = git(repo, "rev-parse", "HEAD"), (repo / path).read_text()

    commit = student.write_student_branch("student", repo=repo)

    assert git(repo, "rev-parse", "student").strip() == commit
    edition = json.loads(git(repo, "show", f"student:{path}"))
    secret = student.solution_lines(json.loads(notebook_text))
    code = {
        line.strip()
        for cell in edition["cells"]
        for line in "".join(cell["source"]).split("\n")
    }
    assert secret and not (secret & code)
    assert 'raise NotImplementedError("Exercise ex-frames")' in code
    # HEAD's, not the working tree's
    assert git(repo, "show", "student:README.md") == "# Course\n"
    assert "new.txt" not in git(repo, "ls-tree", "-r", "--name-only", "student")
    assert git(repo, "rev-parse", "student^{tree}") != git(
        repo, "rev-parse", "HEAD^{tree}"
    )
    assert git(repo, "rev-list", "--parents", "-n1", "student").split() == [
        commit
    ]  # no parent
    # the checkout is exactly as it was
    assert git(repo, "status", "--porcelain") == status
    assert (repo / ".git" / "index").read_bytes() == index
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert (repo / path).read_text() == notebook_text


def test_student_branch_grows_on_its_own_history(course_repo):
    repo = course_repo
    first = student.write_student_branch("student", repo=repo)
    assert student.write_student_branch("student", repo=repo) is None  # nothing new
    notebook = instructor_notebook()
    notebook.cells.append(
        new_code_cell("answer = 6 * 7", metadata={"tags": ["solution"]})
    )
    (repo / "chapters" / "01_x" / "x.ipynb").write_text(json.dumps(notebook))
    git(repo, "commit", "-q", "-am", "a new exercise")
    second = student.write_student_branch("student", repo=repo)
    assert git(repo, "rev-list", "--parents", "-n1", "student").split() == [
        second,
        first,
    ]
    assert "6 * 7" not in git(repo, "show", "student:chapters/01_x/x.ipynb")
    git(repo, "checkout", "-q", "student")
    with pytest.raises(RuntimeError, match="checked out"):
        student.write_student_branch("student", repo=repo)
