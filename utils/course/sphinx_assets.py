"""A Sphinx extension of the book's build: each page loads each script once
(chapter: Instructor guide, "Publishing").

Why: Sphinx 7.4 keeps an inline script that an extension adds after the HTML builder
has started (``app.add_js_file(None, body=...)``) under the file name ``None``, then
adds it again under ``''`` when it prepares the pages, and the two do not compare
equal. sphinx-thebe adds ``const THEBE_JS_URL = ...`` that way, so every page declared
it twice and the browser logged ``SyntaxError: Identifier 'THEBE_JS_URL' has already
been declared``. This extension drops the second copy of any script from each page's
list. ``_config.yml`` loads it; the browser check (:mod:`utils.course.browser`) fails
on the error it prevents.
"""

from __future__ import annotations


def _key(script) -> tuple:
    attributes = tuple(sorted(getattr(script, "attributes", {}).items()))
    return (getattr(script, "filename", script) or "", attributes)


def unique_scripts(scripts: list) -> list:
    """``scripts`` without repeats, the first copy kept; names None and '' alike."""
    seen, kept = set(), []
    for script in scripts:
        if (key := _key(script)) not in seen:
            seen.add(key)
            kept.append(script)
    return kept


def _dedupe_page_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts:
        scripts[:] = unique_scripts(scripts)


def setup(app):
    app.connect("html-page-context", _dedupe_page_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
