"""The project's front matter: licences, citation, version, contributing guide, book footer."""

from __future__ import annotations

import re
import tomllib

import yaml

import utils
from utils.config import REPO_ROOT
from utils.course import release

CONFIG = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]


def test_a_fresh_clone_has_the_licences_citation_and_guides():
    for name in [
        "LICENSE",
        "LICENSE-CONTENT",
        "CITATION.cff",
        "CONTRIBUTING.md",
        "CHANGELOG.md",
    ]:
        assert (REPO_ROOT / name).is_file(), f"{name} is missing"
    code = (REPO_ROOT / "LICENSE").read_text()
    assert code.startswith("MIT License") and "[year]" not in code
    content = (REPO_ROOT / "LICENSE-CONTENT").read_text()
    assert "Creative Commons Attribution 4.0 International Public License" in content
    # complete
    assert "Creative Commons may be contacted at creativecommons.org." in content


def test_the_readme_names_both_licences_and_the_guides():
    readme = (REPO_ROOT / "README.md").read_text()
    for text in [
        "MIT",
        "CC BY 4.0",
        "LICENSE-CONTENT",
        "CITATION.cff",
        "CONTRIBUTING.md",
    ]:
        assert text in readme, text


def test_the_version_has_one_value_everywhere():
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)
    assert utils.__version__ == VERSION
    found = release.versions()
    assert set(found.values()) == {VERSION}, found
    assert len(found) == len(release.VERSION_FILES)


def test_the_footer_shows_the_version_and_the_licences():
    footer = CONFIG["html"]["extra_footer"]
    assert f"Version {VERSION}" in footer
    assert "CC BY 4.0" in footer and "MIT" in footer
    url = CONFIG["repository"]["url"]
    links = re.findall(r'href="([^"]+)"', footer)
    assert (
        f"{url}/blob/main/LICENSE" in links
        and f"{url}/blob/main/LICENSE-CONTENT" in links
    )
    assert CONFIG["parse"]["myst_substitutions"]["course_version"] == VERSION


def test_the_citation_file_matches_the_project():
    cff = yaml.safe_load((REPO_ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert cff["version"] == VERSION
    assert cff["repository-code"] == CONFIG["repository"]["url"]
    assert cff["license"] == ["MIT", "CC-BY-4.0"]
    assert cff["title"] and cff["message"]
    assert [a["name"] for a in cff["authors"]] == [
        CONFIG["author"]
    ]  # the book's byline
    # the copyright holder
    assert CONFIG["author"] in (REPO_ROOT / "LICENSE").read_text()


def test_the_book_has_a_how_to_cite_page_in_the_back_matter():
    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text())
    back = next(p for p in toc["parts"] if p["caption"] == "Back matter")
    assert {"file": "chapters/cite"} in back["chapters"]
    page = (REPO_ROOT / "chapters" / "cite.md").read_text()
    assert "{{ course_version }}" in page and "CC BY 4.0" in page and "MIT" in page
    assert CONFIG["repository"]["url"] in page


def test_the_changelog_follows_keep_a_changelog():
    text = (REPO_ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert release.changelog_heading(VERSION) is not None


def test_the_contributing_guide_uses_real_make_targets():
    guide = (REPO_ROOT / "CONTRIBUTING.md").read_text()
    makefile = (REPO_ROOT / "Makefile").read_text()
    targets = set(re.findall(r"(?m)^([a-z][a-z-]*):", makefile))
    used = set(re.findall(r"`make ([a-z-]+)", guide))
    assert used and used <= targets, used - targets
    for section in [
        "## Set up",
        "## Run one chapter fast",
        "## Add a chapter",
        "## Add a dataset",
    ]:
        assert section in guide
    assert "## What CI checks" in guide and "## Releasing" in guide


def test_ci_runs_the_hooks_after_the_tests():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert ci.index("make test") < ci.index("make hooks")
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "pre-commit run --all-files" in makefile
    assert "pre-commit install" in makefile  # make env installs the hook
