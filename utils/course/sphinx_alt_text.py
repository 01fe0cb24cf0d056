"""A Sphinx extension of the book's build: alt text for the figures cells draw
(chapter: Instructor guide, "Publishing").

A figure a notebook cell draws reaches the page as an image whose alt text is its own
file name (``../../_images/4ee5...png``), which a screen reader reads out as such. This
extension gives each such image the titles its cell sets (``title="..."``,
``set_title("...")``, ``suptitle("...")``, ``description="..."``), else the section it
belongs to. Alt text a cell sets itself (cell metadata ``mystnb: image: alt:``) is kept.
The browser check (:mod:`utils.course.browser`) fails on an image without alt text.
"""

from __future__ import annotations

import ast
import re

from docutils import nodes

TITLE_CALLS = {"title", "set_title", "suptitle", "description", "set_label"}


def cell_titles(source: str) -> list[str]:
    """The string titles a cell's code gives its figures, in order, without repeats."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: fall back to a pattern
        pattern = r"(?:title|description)\s*[=(]\s*[\"']([^\"']+)[\"']"
        found = re.findall(pattern, source)
        return list(dict.fromkeys(found))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        values = [k.value for k in node.keywords if k.arg in TITLE_CALLS]
        if name in TITLE_CALLS and node.args:
            values.insert(0, node.args[0])
        found += [v.value for v in values if isinstance(v, ast.Constant)]
    return list(dict.fromkeys(t for t in found if isinstance(t, str) and t.strip()))


def _section_title(node: nodes.Node) -> str:
    while node is not None:
        if isinstance(node, nodes.section) and node.children:
            return node[0].astext()
        node = node.parent
    return ""


def alt_text(source: str, section: str) -> str:
    """Alt text for a figure drawn by ``source`` in section ``section``."""
    if titles := cell_titles(source):
        return "Figure: " + "; ".join(titles)
    where = f" in the section “{section}”" if section else ""
    return f"Figure drawn by the code cell above{where}."


def _add_alt_text(app, doctree: nodes.document, docname: str) -> None:
    for cell in doctree.findall(nodes.container):
        if cell.get("nb_element") != "cell_code":
            continue
        sources = [n for n in cell.findall(nodes.literal_block)]
        code = sources[0].astext() if sources else ""
        for image in cell.findall(nodes.image):
            if not image.get("alt"):
                image["alt"] = alt_text(code, _section_title(cell))


def setup(app):
    app.connect("doctree-resolved", _add_alt_text)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
