"""utils.course.plain_markdown: the student edition reads as plain Markdown in Jupyter
and Colab, where MyST directives and roles are not rendered."""

import json

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from utils.config import REPO_ROOT
from utils.course import student
from utils.course.notebooks import notebooks
from utils.course.plain_markdown import load_book, plain_notebook, raw_myst

TOC = """\
format: jb-book
root: intro
parts:
  - caption: Start
    chapters:
      - file: ch/start
  - caption: Numbered
    numbered: true
    chapters:
      - file: ch/one
      - file: ch/two
"""
BIB = """\
@article{bai2018tcn,
  author = {Bai, Shaojie and Kolter, J. Zico and Koltun, Vladlen},
  title = {An Empirical Evaluation},
  journal = {arXiv},
  year = {2018}
}
@article{hochreiter1997lstm,
  author = {Hochreiter, Sepp and Schmidhuber, J{\\"u}rgen},
  title = {Long Short-Term Memory},
  journal = {Neural Computation},
  year = {1997}
}
"""


def _markdown(notebook) -> list[str]:
    cells = notebook["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


@pytest.fixture
def book_root(tmp_path):
    (tmp_path / "_toc.yml").write_text(TOC)
    (tmp_path / "references.bib").write_text(BIB)
    (tmp_path / "ch").mkdir()
    for name, cells in {
        "start": ["# Getting started"],
        "one": ["# One: the first chapter", "(one-memory)=\n## How far back?\n\nText."],
        "two": ["# Two: the second"],
    }.items():
        notebook = new_notebook(cells=[new_markdown_cell(c) for c in cells])
        (tmp_path / "ch" / f"{name}.ipynb").write_text(json.dumps(notebook))
    return tmp_path


def test_exercises_are_numbered_as_the_book_numbers_them(book_root):
    exercise = "```{exercise} Count frames (easy)\n:label: two-frames\n\nHow many?\n```"
    notebook = new_notebook(cells=[new_markdown_cell(exercise) for _ in range(2)])
    book = load_book(book_root)
    second = plain_notebook(notebook, "ch/two", book, book_root)
    assert _markdown(second)[1] == "### Exercise 2.2: Count frames (easy)\n\nHow many?"
    unnumbered = plain_notebook(notebook, "ch/start", book, book_root)
    assert _markdown(unnumbered)[0].startswith("### Exercise 1: Count frames")


def test_citations_cross_references_and_notes_become_markdown(book_root):
    text = (
        "(two-top)=\n## Top\n\nGRUs {cite}`bai2018tcn,hochreiter1997lstm`; see "
        "{ref}`one-memory`, {ref}`this part <two-top>`, {doc}`one` and {doc}`the start "
        "<../ch/start>`.\n\n```{note}\nA note\non two lines.\n```"
    )
    notebook = new_notebook(cells=[new_markdown_cell(text), new_code_cell("x = 1")])
    plain = plain_notebook(notebook, "ch/two", load_book(book_root), book_root)
    body, references = _markdown(plain)
    assert body == (
        "## Top\n\nGRUs (Bai et al., 2018; Hochreiter and Schmidhuber, 1997); see "
        "[How far back?](one.ipynb#How-far-back?), [this part](#Top), "
        "[One: the first chapter](one.ipynb) and [the start](start.ipynb)."
        "\n\n> **Note.**\n>\n> A note\n> on two lines."
    )
    assert references.startswith("## References")
    entry = "- Hochreiter, Sepp; Schmidhuber, Jürgen (1997). *Long Short-Term Memory*."
    assert entry in references
    assert references.index("Bai") < references.index("Hochreiter")
    assert raw_myst(body + references) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("```{figure} a.png\n```", "directive {figure}"),
        ("{cite}`nobody2020`", "not in references.bib"),
        ("{ref}`missing-label`", "no section labelled"),
        ("{glue:text}`accuracy`", "role {glue:text}"),
    ],
)
def test_what_it_cannot_render_is_an_error(book_root, text, message):
    notebook = new_notebook(cells=[new_markdown_cell(text)])
    with pytest.raises(ValueError, match=message):
        plain_notebook(notebook, "ch/one", load_book(book_root), book_root)


def test_raw_myst_finds_what_jupyter_would_show_raw():
    text = "(x)=\n# T\n```{exercise} E\nbody\n```\nSee {ref}`x` and $a$."
    assert raw_myst(text) == ["(x)=", "```{exercise} E", "{ref}`x`"]


def test_student_edition_of_every_chapter_shows_no_raw_myst(tmp_path):
    """Opened in Jupyter or Colab, no chapter shows a directive or a role as text; its
    exercises are numbered headings, as many as the book's exercises."""
    book = load_book()
    written = student.write_student_edition(tmp_path)
    for source, target in zip(notebooks(), written, strict=True):
        markdown = "\n\n".join(_markdown(json.loads(target.read_text())))
        assert raw_myst(markdown) == [], target
        doc = source.relative_to(REPO_ROOT).with_suffix("").as_posix()
        number = book.chapter_numbers.get(doc)
        instructor = "".join(_markdown(json.loads(source.read_text())))
        exercises = instructor.count("{exercise}")
        prefix = f"### Exercise {number}." if number else "### Exercise "
        assert markdown.count(prefix) == exercises, target
