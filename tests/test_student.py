"""utils.student: the student edition keeps everything but the solutions."""

import json

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from utils import student
from utils.notebooks import notebooks


def instructor_notebook():
    return new_notebook(
        cells=[
            new_markdown_cell("# Title"),
            new_code_cell("import math", metadata={"tags": ["course-setup"]}),
            new_markdown_cell("```{exercise} Frames\n:label: ex-frames\n\nHow many frames?\n```"),
            new_markdown_cell("````{solution-start} ex-frames\n:class: dropdown\n````"),
            new_markdown_cell("One frame every hop: 1 + (8000 - 256) // 80 = 97."),
            new_code_cell("frames = 1 + (8000 - 256) // 80", metadata={"tags": ["solution"]}),
            new_markdown_cell("````{solution-end}\n````"),
            new_code_cell(
                "checks.check_between('frames', frames, 90, 100)",
                metadata={"tags": ["uses-answer"]},
            ),
            new_markdown_cell("```{exercise} Square\n:label: ex-square\n```"),
            new_code_cell(
                "def square(x):\n    # BEGIN SOLUTION\n    return x * x\n    # END SOLUTION",
                metadata={"tags": ["solution"]},
                outputs=[{"output_type": "stream", "name": "stdout", "text": "secret\n"}],
            ),
            new_code_cell("print('ordinary cell')"),
        ]
    )


def test_stub_source_keeps_the_skeleton():
    source = "def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\n"
    assert student.stub_source(source, "ex-1") == (
        'def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError("Exercise ex-1")'
    )
    assert student.stub_source("y = 2", "ex-2").endswith('NotImplementedError("Exercise ex-2")')


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
    check = next(c for c in edition["cells"] if "uses-answer" in c["metadata"].get("tags", []))
    assert "nbval-skip" in check["metadata"]["tags"]
    assert "student edition" in sources[1]
    assert len(original["cells"]) == 11  # the input is left alone
    nbformat.validate(nbformat.from_dict(edition))


def test_solution_lines_finds_what_must_not_leak():
    lines = student.solution_lines(instructor_notebook())
    assert "frames = 1 + (8000 - 256) // 80" in lines and "return x * x" in lines
    assert "def square(x):" not in lines  # the skeleton is not a secret


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
