"""The student edition outside the book: MyST turned into plain Markdown
(chapter: Instructor guide, "Student edition").

Jupyter and Colab render Markdown, not MyST: an ``{exercise}`` directive, a ``{cite}``
or a ``{ref}`` would show as raw text there. :func:`plain_notebook` rewrites a chapter's
markdown cells as the book would show them:

- ```` ```{exercise} Title ```` becomes a heading ``### Exercise 3.2: Title``, numbered
  as the book numbers it (chapter from ``_toc.yml``'s numbered parts, exercise within
  its chapter; unnumbered chapters count 1, 2, ...);
- admonitions (``{note}``, ``{tip}``, ...) become block quotes with a bold title;
- ``{cite}`key``` becomes (Author et al., year), and the cited works a "References"
  cell at the end, from ``references.bib``;
- ``{ref}`label``` and ``{doc}`path``` become links to the section or notebook, with
  the title the book shows; ``(label)=`` targets are dropped.

A role or directive it does not know raises ``ValueError``, so that a new one cannot
reach a student unrendered. The book keeps the directives; only the student edition
(:mod:`utils.course.student`) is rewritten.
"""

from __future__ import annotations

import copy
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from utils.config import REPO_ROOT

ADMONITIONS = {
    "note", "tip", "hint", "important", "warning", "caution", "attention", "danger",
    "error", "seealso", "admonition",
}  # fmt: skip
DIRECTIVE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}[ \t]*(?P<argument>[^\n]*)\n"
    r"(?P<body>.*?)^(?P=fence)[ \t]*$",
    re.M | re.S,
)
OPTION = re.compile(r"^:(?P<key>[\w-]+):[ \t]*(?P<value>[^\n]*)\n?", re.M)
TARGET = re.compile(r"^\((?P<label>[\w:.-]+)\)=[ \t]*\n?", re.M)
ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<content>[^`]*)`")
# a role's "text <target>" form
EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
HEADING = re.compile(r"^#{1,6}[ \t]+(?P<title>.+?)[ \t]*$", re.M)


# ----------------------------------------------------------------------------- the book


@dataclass
class Book:
    """What a chapter needs to know about the rest of the book."""

    chapter_numbers: dict[str, int | None] = field(default_factory=dict)  # doc -> 3
    titles: dict[str, str] = field(default_factory=dict)  # doc -> its first heading
    # label -> (doc, title)
    sections: dict[str, tuple[str, str]] = field(default_factory=dict)
    references: dict = field(default_factory=dict)  # bib key -> pybtex entry


def _markdown_cells(path: Path) -> list[str]:
    import nbformat

    if path.suffix == ".md":
        return [path.read_text()]
    notebook = nbformat.read(path, as_version=4)
    return [c.source for c in notebook.cells if c.cell_type == "markdown"]


def load_book(root: Path = REPO_ROOT) -> Book:
    """Chapter numbers, titles and section labels from ``_toc.yml`` and the chapters."""
    import yaml
    from pybtex.database import parse_file

    book, number = Book(), 0
    if not (root / "_toc.yml").is_file():  # a bare repository (tests): no numbers
        return book
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            doc = chapter["file"]
            if part.get("numbered"):
                number += 1
            book.chapter_numbers[doc] = number if part.get("numbered") else None
            path = next(root.glob(f"{doc}.*"), None)
            if path is None or path.suffix not in (".ipynb", ".md"):
                continue
            text = "\n\n".join(_markdown_cells(path))
            if heading := HEADING.search(text):
                book.titles[doc] = heading["title"]
            for target in TARGET.finditer(text):
                after = HEADING.search(text, target.end())
                title = after["title"] if after else target["label"]
                book.sections[target["label"]] = (doc, title)
    if (root / "references.bib").is_file():
        book.references = dict(parse_file(str(root / "references.bib")).entries)
    return book


# ----------------------------------------------------------------------------- helpers


def _latex(text: str) -> str:
    """BibTeX text as plain text: accents decoded, protecting braces dropped."""
    import codecs

    import latexcodec  # noqa: F401 (registers the codec)

    return codecs.decode(text, "ulatex").replace("{", "").replace("}", "")


def _last_names(entry) -> list[str]:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    return [_latex(" ".join(p.last_names)) for p in people]


def cite_label(entry) -> str:
    """Author-year, as the book prints it: "Bai et al., 2018"."""
    names = _last_names(entry)
    year = entry.fields.get("year", "n.d.")
    if len(names) > 2:
        return f"{names[0]} et al., {year}"
    return f"{' and '.join(names) or _latex(entry.fields.get('title', '?'))}, {year}"


def reference_line(entry) -> str:
    """One entry of the reference list, in Markdown."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    authors = "; ".join(_latex(str(p)) for p in people)
    fields = {k: _latex(v) for k, v in entry.fields.items()}
    venue = fields.get("journal") or fields.get("booktitle") or fields.get("publisher")
    year, title = fields.get("year", "n.d."), fields.get("title", "")
    parts = [f"{authors} ({year}).", f"*{title}*."]
    parts += [f"{venue}."] if venue else []
    if doi := entry.fields.get("doi"):
        parts.append(f"<https://doi.org/{doi}>")
    elif url := entry.fields.get("url"):
        parts.append(f"<{url}>")
    return "- " + " ".join(parts)


def _anchor(title: str) -> str:
    """The anchor Jupyter gives a heading: its text, spaces as dashes."""
    return re.sub(r"\s+", "-", re.sub(r"[`*]", "", title).strip())


def _link(doc: str, from_doc: str, root: Path) -> str:
    """A relative link from notebook ``from_doc`` to the source of ``doc``."""
    path = next(root.glob(f"{doc}.*"), None)
    suffix = path.suffix if path else ".ipynb"
    start = PurePosixPath(from_doc).parent.as_posix()
    return posixpath.relpath(f"{doc}{suffix}", start)


def _resolve(target: str, from_doc: str) -> str:
    """A ``{doc}`` target (relative, or absolute from the book's root) from the root."""
    if target.startswith("/"):
        return target.lstrip("/")
    parts: list[str] = []
    for part in (*PurePosixPath(from_doc).parent.parts, *target.split("/")):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


# ----------------------------------------------------------------------------- rewrite


class _Chapter:
    """Rewrites one chapter's cells; remembers exercise numbers and the works cited."""

    def __init__(self, doc: str, book: Book, root: Path):
        self.doc, self.book, self.root = doc, book, root
        self.number = book.chapter_numbers.get(doc)
        self.exercises = 0
        self.cited: list[str] = []

    def directive(self, match: re.Match) -> str:
        name, argument = match["name"], match["argument"].strip()
        options = {m["key"]: m["value"] for m in OPTION.finditer(match["body"])}
        body = OPTION.sub("", match["body"]).strip("\n")
        if name == "exercise":
            self.exercises += 1
            number = self.exercises
            if self.number:
                number = f"{self.number}.{self.exercises}"
            if label := options.get("label"):
                self.book.sections[label] = (self.doc, f"Exercise {number}")
            title = f": {argument}" if argument else ""
            return f"### Exercise {number}{title}\n\n{body}"
        if name in ADMONITIONS:
            title = argument if name == "admonition" else name.capitalize()
            title = "See also" if name == "seealso" else title
            quoted = "\n".join(f"> {line}".rstrip() for line in body.splitlines())
            return f"> **{title}.**\n>\n{quoted}"
        raise ValueError(f"{self.doc}: no plain Markdown for the directive {{{name}}}")

    def role(self, match: re.Match) -> str:
        role, content = match["role"], match["content"]
        explicit = EXPLICIT.match(content)
        text, target = ("", content)
        if explicit:
            text, target = explicit["text"], explicit["target"]
        if role.startswith("cite"):
            keys = [k.strip() for k in target.split(",")]
            unknown = [k for k in keys if k not in self.book.references]
            if unknown:
                raise ValueError(f"{self.doc}: {unknown} not in references.bib")
            self.cited += [k for k in keys if k not in self.cited]
            labels = "; ".join(cite_label(self.book.references[k]) for k in keys)
            return f"({labels})"
        if role == "doc":
            doc = _resolve(target, self.doc)
            title = text or self.book.titles.get(doc, doc)
            return f"[{title}]({_link(doc, self.doc, self.root)})"
        if role in ("ref", "numref"):
            if target not in self.book.sections:
                raise ValueError(f"{self.doc}: no section labelled {target!r}")
            doc, title = self.book.sections[target]
            where = "" if doc == self.doc else _link(doc, self.doc, self.root)
            return f"[{text or title}]({where}#{_anchor(title)})"
        if role == "math":
            return f"${content}$"
        if role in ("term", "abbr", "sub", "sup"):
            return text or target
        raise ValueError(f"{self.doc}: no plain Markdown for the role {{{role}}}")

    def collect(self, source: str) -> None:
        """Learn the labels ``source`` defines: sections and numbered exercises."""
        for target in TARGET.finditer(source):
            after = HEADING.search(source, target.end())
            title = after["title"] if after else target["label"]
            self.book.sections[target["label"]] = (self.doc, title)
        for match in DIRECTIVE.finditer(source):
            if match["name"] == "exercise":
                self.directive(match)

    def markdown(self, source: str) -> str:
        source = TARGET.sub("", source)
        source = DIRECTIVE.sub(self.directive, source)
        return ROLE.sub(self.role, source)

    def references_cell(self) -> dict | None:
        if not self.cited:
            return None
        entries = [self.book.references[k] for k in self.cited]
        entries.sort(key=lambda e: (_last_names(e) or [""])[0])
        lines = "\n".join(reference_line(e) for e in entries)
        source = f"## References\n\nThe works this chapter cites.\n\n{lines}\n"
        cell = {"cell_type": "markdown", "id": "references", "metadata": {}}
        return {**cell, "source": source}


def plain_notebook(
    notebook: dict, doc: str, book: Book | None = None, root: Path = REPO_ROOT
) -> dict:
    """``notebook``, the chapter ``doc`` (``chapters/03_convolutional/convolutional``),
    with its markdown cells in plain Markdown and a reference list; a new dict."""
    book = copy.deepcopy(book) if book else load_book(root)
    chapter = _Chapter(doc, book, root)
    out = copy.deepcopy(notebook)
    # Labels first, so that a {ref} to a later section or exercise finds its title.
    for cell in out["cells"]:
        if cell["cell_type"] == "markdown":
            chapter.collect("".join(cell["source"]))
    chapter.exercises = 0
    for cell in out["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = chapter.markdown("".join(cell["source"]))
    if cell := chapter.references_cell():
        out["cells"].append(cell)
    return out


def raw_myst(text: str) -> list[str]:
    """The MyST constructs left in ``text`` that Jupyter would show as raw text."""
    found = [m[0].splitlines()[0] for m in DIRECTIVE.finditer(text)]
    found += [m[0] for m in ROLE.finditer(text)]
    found += [m[0].strip() for m in TARGET.finditer(text)]
    found += re.findall(r"^(?:`{3,}|:{3,})\{[\w-]+\}.*$", text, re.M)
    return sorted(set(found))
