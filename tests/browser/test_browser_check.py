"""The browser check (utils.course.browser): each kind of problem it must catch, on
a small site made for it, and the built book when one is named.

Needs Chromium from the system's packages (``apt-get install chromium``); skipped with
the reason when there is none. The built book is checked when ``COURSE_BOOK_HTML``
names it (``make check-html`` and ``.ci/run`` do, after ``make book``), never an old
build by chance.
"""

import os
from pathlib import Path

import pytest

from utils.config import REPO_ROOT
from utils.course import browser
from utils.course.sphinx_assets import unique_scripts

CHROMIUM = browser.find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine: apt-get install chromium"
)
PIXEL = (  # a 1x1 PNG
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNk"
    "YAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
WIDGET_VIEW = '<script type="application/vnd.jupyter.widget-view+json">{}</script>'


def _page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


def _site(root: Path, pages: dict[str, str]) -> Path:
    for name, html in pages.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(html)
    return root


@needs_chromium
def test_a_clean_site_has_no_problems(tmp_path):
    site = _site(
        tmp_path,
        {
            "index.html": _page(
                '<a href="ch/a.html#s1">A</a> <a href="https://example.org/">out</a>'
                f'<img src="{PIXEL}" alt="a dot"><script src="https://cdn.example/x.js"></script>'
            ),
            "ch/a.html": _page(
                '<h1 id="s1">A</h1><a href="../index.html">home</a>'
                f'<div class="cell"><img src="{PIXEL}" alt="static">{WIDGET_VIEW}</div>'
            ),
        },
    )
    # a CDN script that cannot load offline is not the book's problem
    assert browser.check_site(site, chromium=CHROMIUM) == []


@needs_chromium
def test_each_problem_is_reported_on_its_page(tmp_path):
    declared_twice = "<script>const THEBE_JS_URL = 1</script>" * 2
    site = _site(
        tmp_path,
        {
            "index.html": _page(
                '<a href="gone.html">gone</a> <a href="ok.html#nowhere">anchor</a>'
                '<a href="ok.html#here">fine</a>'
                '<img src="_images/missing.png" alt="x">',
                head=declared_twice,
            ),
            "ok.html": _page(
                f'<h2 id="here">Here</h2><div class="cell">{WIDGET_VIEW}</div>'
                "<script>console.error('boom')</script>"
                "<p>data in /home/builder/course/data</p>"
            ),
            "speech/digits.html": _page("<p>no player</p>"),
        },
    )
    found = browser.check_site(
        site, audio=("speech/",), forbid=("/home/builder",), chromium=CHROMIUM
    )
    expected = [
        "index.html: JavaScript error: SyntaxError: Identifier 'THEBE_JS_URL' has",
        "index.html: image did not load: _images/missing.png",
        "index.html: link to a missing file: gone.html",
        "index.html: link to a missing anchor: ok.html#nowhere",
        "ok.html: 1 interactive figure(s) with no static figure",
        "ok.html: console.error: boom",
        "ok.html: contains '/home/builder'",
        "speech/digits.html: no audio player on a page that should play audio",
    ]
    for line in expected:
        assert any(f.startswith(line) for f in found), f"{line!r} not in {found}"
    assert not any("ok.html#here" in f for f in found)
    assert len(found) == len(expected) + 1  # + the 404 of missing.png in the console


def _png(path: Path, alpha: float) -> str:
    import matplotlib.pyplot as plt
    import numpy as np

    plt.imsave(path, np.full((8, 8, 4), [0.2, 0.4, 0.6, alpha]))
    return path.name


@needs_chromium
def test_figures_need_alt_text_and_an_opaque_background(tmp_path):
    opaque, clear = _png(tmp_path / "a.png", 1.0), _png(tmp_path / "b.png", 0.0)
    cell = '<div class="cell_output"><img src="{}" alt="{}"></div>'
    site = _site(
        tmp_path,
        {
            "index.html": _page(cell.format(opaque, "Figure: accuracy by epoch")),
            "bad.html": _page(cell.format(opaque, opaque) + cell.format(clear, "ok")),
        },
    )
    assert browser.check_site(site, chromium=CHROMIUM) == [
        "bad.html: image without alt text: a.png",
        "bad.html: transparent figure, unreadable in the dark theme: b.png",
    ]


@needs_chromium
def test_a_code_cell_wider_than_the_column_is_reported(tmp_path):
    style = "<style>.cell_input { width: 700px } pre { font: 14px monospace }</style>"
    cell = '<div class="cell_input"><pre>{}</pre></div>'
    narrow, wide = "x = 1\n" + "y" * 60, "print(" + "z" * 140 + ")"
    html = _page(cell.format(narrow) + cell.format(wide), head=style)
    site = _site(tmp_path, {"index.html": html})
    found = browser.check_site(site, chromium=CHROMIUM)
    message = f"code wider than the column (147 characters): {wide[:50]}"
    assert found == [f"index.html: {message}"]


def test_alt_text_comes_from_the_titles_a_cell_sets():
    from utils.course.sphinx_alt_text import alt_text, cell_titles

    code = (
        'fig, ax = plt.subplots()\nax.set_title("Loss by epoch")\n'
        'ax.set(xlabel="epoch", title="Loss by epoch")\nfig.suptitle(f"{n} runs")\n'
        'plots.plot_diagram(boxes, arrows, description="Which family to choose")'
    )
    assert cell_titles(code) == ["Loss by epoch", "Which family to choose"]
    assert alt_text(code, "Training") == "Figure: Loss by epoch; Which family to choose"
    assert alt_text("plt.plot(x)", "Training") == (
        "Figure drawn by the code cell above in the section “Training”."
    )
    assert cell_titles('%matplotlib inline\nplt.title("Magic")') == ["Magic"]


@needs_chromium
def test_a_working_audio_player_passes(tmp_path):
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    (tmp_path / "tone.wav").write_bytes(buffer.getvalue())
    player = _page('<audio controls src="tone.wav"></audio>')
    site = _site(tmp_path, {"index.html": player})
    assert browser.check_site(site, audio=("index",), chromium=CHROMIUM) == []


def test_a_missing_book_or_browser_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="build the book first"):
        browser.check_site(tmp_path, chromium="chromium")


def test_scripts_named_none_and_empty_are_one_script():
    """The cause of the THEBE_JS_URL error: one inline script under two names."""

    class Script:
        def __init__(self, filename, **attributes):
            self.filename, self.attributes = filename, attributes

    inline = dict(body="const THEBE_JS_URL = 1")
    scripts = [
        Script("a.js"),
        Script(None, **inline),
        Script("", **inline),
        Script("a.js"),
    ]
    assert unique_scripts(scripts) == scripts[:2]
    assert len(unique_scripts([Script(None, body="x"), Script("", body="y")])) == 2


BOOK = os.environ.get("COURSE_BOOK_HTML")


@pytest.mark.skipif(not BOOK, reason="no COURSE_BOOK_HTML: make check-html sets it")
def test_the_built_book_in_a_browser():
    """Asked for by name (make check-html, CI): a missing browser or book fails."""
    html = Path(BOOK)
    if not html.is_absolute():
        html = REPO_ROOT / html
    assert CHROMIUM, "no Chromium on this machine: apt-get install chromium"
    folders = (REPO_ROOT, Path.home(), os.environ.get("COURSE_DATA_MIRROR") or "/")
    forbid = tuple(str(f) for f in folders if len(str(f)) > 1)
    found = browser.check_site(
        html, audio=("chapters/04_speech/",), forbid=forbid, chromium=CHROMIUM
    )
    assert not found, "\n".join(found)
