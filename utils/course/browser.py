"""The browser check: every page of the built book opened in headless Chromium
(chapter: Instructor guide, "Publishing").

``python -m utils.course.browser _quick/_build/html`` serves the built HTML on
127.0.0.1, opens each page in the Chromium that Debian packages (``apt-get install
chromium``; nothing is downloaded) through the DevTools protocol, and prints one line
per problem:

- an uncaught JavaScript error or a ``console.error`` (a script declared twice, say);
- a code cell wider than the book's column at ``VIEWPORT`` (lines cut off);
- a resource of the book that did not load (404), an image that did not load, an
  image without alt text, a figure with a transparent background (unreadable in the
  dark theme);
- an internal link to a page that does not exist, or to an anchor that page lacks;
- a page that should play audio (``--audio``: the speech chapter) without a player
  that works;
- an interactive figure (an ipywidgets view) whose cell shows no static figure for
  readers without a kernel;
- a string that must never be published (``--forbid``: the builder's own folders).

Hosts other than 127.0.0.1 are unreachable on purpose (the check runs offline, as CI
does), so a CDN script that fails to load is not a problem of the book. Exit status 1
when any problem was found.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHROMIUM_NAMES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)

LOADED = "Page.loadEventFired"
# A laptop's browser window at the book's full layout: its code column holds 88
# characters, the width the course's code is formatted to (ruff's line-length).
VIEWPORT = (1440, 900)

# What each page reports once it has loaded (run in the page; returns plain JSON).
PAGE_FACTS_JS = r"""
(async () => {
  const images = [...document.images];
  for (const img of images) img.loading = "eager";
  await Promise.all(images.map((img) => img.decode().catch(() => null)));
  const audio = [...document.querySelectorAll("audio")];
  await Promise.all(audio.map((a) => a.readyState > 0 || a.error ? null :
    new Promise((done) => {
      a.addEventListener("loadedmetadata", done); a.addEventListener("error", done);
      a.load(); setTimeout(done, 3000);
    })));
  await new Promise((done) => setTimeout(done, 300));  // late async script errors
  const views = document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]');
  const isPath = (alt, src) =>
    !alt || alt === src || /\.(png|jpe?g|gif|svg)$/i.test(alt);
  const seeThrough = (img) => {  // a transparent figure vanishes in the dark theme
    if (!img.closest(".cell_output") || !(img.naturalWidth > 0)) return false;
    const canvas = document.createElement("canvas");
    canvas.width = Math.min(img.naturalWidth, 200);
    canvas.height = Math.min(img.naturalHeight, 200);
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0, canvas.width, canvas.height);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] < 250) return true;
    return false;
  };
  const longest = (pre) => pre.textContent.split("\n")
    .reduce((a, b) => (b.length > a.length ? b : a), "");
  return {
    wideCode: [...document.querySelectorAll(".cell_input pre")]
      .filter((pre) => pre.scrollWidth > pre.clientWidth + 1)
      .map((pre) => longest(pre)),
    noAltText: images.filter((img) => isPath((img.getAttribute("alt") || "").trim(),
                                             img.getAttribute("src")))
      .map((img) => img.getAttribute("src")),
    transparent: images.filter(seeThrough).map((img) => img.getAttribute("src")),
    brokenImages: images.filter((img) => !(img.complete && img.naturalWidth > 0))
      .map((img) => img.getAttribute("src")),
    links: [...document.querySelectorAll("a[href]")].map((a) => a.href),
    ids: [...document.querySelectorAll("[id], a[name]")].map((e) => e.id || e.name),
    audio: audio.map((a) => ({src: a.currentSrc ? a.currentSrc.slice(0, 40) : "",
                              error: a.error ? a.error.code : null})),
    viewsWithoutFallback: [...views].filter((view) => {
      const cell = view.closest(".cell") || view.parentElement;
      return !cell.querySelector("img, svg");
    }).length,
  };
})()
"""


# ----------------------------------------------------------------------------- helpers


def find_chromium() -> str | None:
    """The Chromium to drive: ``$COURSE_CHROMIUM``, else the first on PATH."""
    if path := os.environ.get("COURSE_CHROMIUM"):
        return path
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


@contextlib.contextmanager
def serve(root: Path):
    """Serve ``root`` over HTTP on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


class Chromium:
    """A headless Chromium driven through the DevTools protocol (one tab)."""

    def __init__(self, executable: str, *, timeout: float = 30):
        self.timeout = timeout
        # Chromium's helper processes can still write to the profile for a moment after the
        # browser exits: cleaning up retries, then leaves a stray folder rather than fail
        self._profile = tempfile.TemporaryDirectory(
            prefix="course-chromium-", ignore_cleanup_errors=True
        )
        command = [
            executable,
            "--headless",
            "--no-sandbox",  # CI runs as root in a container
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--mute-audio",
            # offline on purpose: every host but this machine fails at once
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--user-data-dir={self._profile.name}",
            "--remote-debugging-port=0",
            "about:blank",
        ]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._stderr: deque[str] = deque(maxlen=50)
        self._devtools_url = threading.Event()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if not self._devtools_url.wait(timeout):
            self.close()
            log = " | ".join(self._stderr)
            raise RuntimeError(f"{executable} did not start: {log}")
        self._connect()
        self.events: list[dict] = []
        self._next_id = 0
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        width, height = VIEWPORT
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _read_stderr(self) -> None:
        for line in iter(self._process.stderr.readline, b""):
            text = line.decode(errors="replace").strip()
            self._stderr.append(text)
            if match := re.search(r"DevTools listening on (ws://\S+)", text):
                self.browser_url = match[1]
                self._devtools_url.set()

    def _connect(self) -> None:
        import websocket  # websocket-client, a dev requirement

        port = urlsplit(self.browser_url).port
        listing = f"http://127.0.0.1:{port}/json/list"
        with urllib.request.urlopen(listing, timeout=10) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        self._socket = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=self.timeout, suppress_origin=True
        )

    def send(self, method: str, **params) -> dict:
        """Call a DevTools method and return its result; events that arrive
        meanwhile are kept in ``events``."""
        self._next_id += 1
        call = {"id": self._next_id, "method": method, "params": params}
        self._socket.send(json.dumps(call))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event: str) -> None:
        """Wait until ``event`` arrives (kept in ``events`` with the others)."""
        deadline = time.monotonic() + self.timeout
        while not any(e["method"] == event for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {event} within {self.timeout} s")
            self.events.append(json.loads(self._socket.recv()))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._socket.close()
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        for _ in range(10):  # a helper process may still be writing into the profile
            try:
                shutil.rmtree(self._profile.name)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.2)
        self._profile.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ----------------------------------------------------------------------------- checks


@dataclass
class Page:
    """What one visit found: the page's problems, its links and its anchors."""

    path: str
    problems: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


def _event_problem(event: dict, base: str) -> str | None:
    """The problem an event reports, or None (other hosts are offline noise)."""
    method, params = event["method"], event.get("params", {})
    if method == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        text = details.get("exception", {}).get("description") or details.get("text")
        line = details.get("lineNumber")
        return f"JavaScript error: {text.splitlines()[0]} (line {line})"
    if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
        values = (a.get("value", a.get("description", "")) for a in params["args"])
        text = " ".join(map(str, values))
        return f"console.error: {text}"
    if method == "Log.entryAdded" and params["entry"]["level"] == "error":
        entry = params["entry"]
        url = entry.get("url", "")
        if (url and not url.startswith(base)) or url == base + "favicon.ico":
            return None  # offline noise; the browser's own request for an icon
        return f"{entry['text']} ({entry.get('url', '')})"
    return None


def visit(browser: Chromium, base: str, path: str, *, audio: bool) -> Page:
    """Open ``base + path`` and collect its problems, links and anchors."""
    page = Page(path)
    browser.events.clear()
    result = browser.send("Page.navigate", url=base + path)
    if "errorText" in result:
        page.problems.append(f"did not load: {result['errorText']}")
        return page
    for _attempt in range(3):  # a page that redirects (index.html) loads twice
        browser.wait_for(LOADED)
        try:
            facts = browser.send(
                "Runtime.evaluate",
                expression=PAGE_FACTS_JS,
                awaitPromise=True,
                returnByValue=True,
            )["result"]["value"]
            break
        except RuntimeError as error:
            if "navigated" not in str(error):
                raise
            browser.events = [e for e in browser.events if e["method"] != LOADED]
    else:
        page.problems.append("keeps navigating away")
        return page
    page.problems += filter(None, (_event_problem(e, base) for e in browser.events))
    page.problems += [f"image did not load: {src}" for src in facts["brokenImages"]]
    page.problems += [f"image without alt text: {src}" for src in facts["noAltText"]]
    page.problems += [
        f"code wider than the column ({len(line)} characters): {line.strip()[:50]}"
        for line in facts["wideCode"]
    ]
    dark = "transparent figure, unreadable in the dark theme"
    page.problems += [f"{dark}: {src}" for src in facts["transparent"]]
    if n := facts["viewsWithoutFallback"]:
        page.problems.append(f"{n} interactive figure(s) with no static figure")
    if audio and not facts["audio"]:
        page.problems.append("no audio player on a page that should play audio")
    for player in facts["audio"]:
        if not player["src"] or player["error"] is not None:
            page.problems.append(f"audio player cannot play: {player}")
    page.links, page.ids = facts["links"], set(facts["ids"])
    return page


def _static_ids(file: Path) -> set[str]:
    return set(re.findall(r'\b(?:id|name)="([^"]+)"', file.read_text(errors="replace")))


def broken_links(root: Path, base: str, pages: dict[str, Page]) -> list[str]:
    """Internal links to missing files or to anchors their page lacks."""
    found = []
    for page in pages.values():
        for href in sorted(set(page.links)):
            if not href.startswith(base):
                continue  # another site, mailto:, javascript:
            url = urlsplit(href)
            target = unquote(url.path[len(urlsplit(base).path) :]) or "index.html"
            if target.endswith("/"):
                target += "index.html"
            if not (root / target).is_file():
                found.append(f"{page.path}: link to a missing file: {target}")
                continue
            anchor = unquote(url.fragment)
            if not anchor or not target.endswith(".html"):
                continue
            ids = pages[target].ids if target in pages else _static_ids(root / target)
            if anchor not in ids:
                where = f"{target}#{anchor}"
                found.append(f"{page.path}: link to a missing anchor: {where}")
    return found


def html_pages(root: Path) -> list[str]:
    """The book's pages under ``root``, relative paths (none of the theme's own)."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.html")
        if not p.relative_to(root).parts[0].startswith("_")
    )


def check_site(
    root: Path,
    *,
    audio: tuple[str, ...] = (),
    forbid: tuple[str, ...] = (),
    chromium: str | None = None,
) -> list[str]:
    """Every problem found in the built HTML under ``root``, as ``page: problem`` lines.

    ``audio``: path prefixes of pages that must carry working audio players; ``forbid``:
    strings no page may contain (checked in the HTML files)."""
    root = Path(root)
    if not (root / "index.html").is_file():
        raise FileNotFoundError(f"{root} has no index.html: build the book first")
    executable = chromium or find_chromium()
    if executable is None:
        raise FileNotFoundError("no Chromium found: apt-get install chromium")
    pages: dict[str, Page] = {}
    with serve(root) as base, Chromium(executable) as browser:
        for path in html_pages(root):
            wants_audio = any(path.startswith(prefix) for prefix in audio)
            pages[path] = visit(browser, base, path, audio=wants_audio)
        found = [f"{p.path}: {x}" for p in pages.values() for x in p.problems]
        found += broken_links(root, base, pages)
    for path in pages:
        text = (root / path).read_text(errors="replace")
        found += [f"{path}: contains {s!r}" for s in forbid if s and s in text]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", type=Path, help="the built book: _quick/_build/html")
    parser.add_argument(
        "--audio",
        action="append",
        default=[],
        help="path prefix of pages with audio players",
    )
    parser.add_argument(
        "--forbid", action="append", default=[], help="a string no page may contain"
    )
    args = parser.parse_args(argv)
    found = check_site(args.html, audio=tuple(args.audio), forbid=tuple(args.forbid))
    print("\n".join(found) or f"{len(html_pages(args.html))} pages: no problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
