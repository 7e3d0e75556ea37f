"""The README stays a front page, and every relative link in it and in docs/ leads somewhere.

- README.md is at most 150 lines: reference material belongs in docs/.
- Every relative Markdown link ``[text](path)`` or ``[text](path#anchor)`` in README.md, CHANGELOG.md and
  docs/*.md names a file that exists in the repository, and an anchor names a heading of that file (GitHub's
  heading slugs). Links with a scheme (``https:``, ``mailto:``) are not followed: no network.
- The link checker is itself run on planted examples, so it can fail.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README_MAX_LINES = 150
DOCUMENTS = sorted(
    [REPO / "README.md", REPO / "CHANGELOG.md", *(REPO / "docs").glob("*.md")], key=lambda path: str(path)
)

_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(text: str) -> set[str]:
    return {_slug(heading) for heading in _HEADING.findall(_FENCE.sub("", text))}


def broken_links(document: Path, text: str) -> list[str]:
    """The relative links of *text* (the contents of *document*) that lead to no file or no heading."""
    broken = []
    for target in _LINK.findall(_FENCE.sub("", text)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # https:, mailto:: not followed
        path, _, anchor = target.partition("#")
        if not path:
            if anchor not in _anchors(text):
                broken.append(f"{target}: no heading with anchor #{anchor}")
            continue
        destination = (document.parent / path).resolve()
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in _anchors(destination.read_text(encoding="utf-8")):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    return broken


def test_readme_is_a_front_page() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move reference material to docs/"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(REPO)))
def test_every_relative_link_resolves(document: Path) -> None:
    assert document.exists(), f"{document.relative_to(REPO)} is missing"
    assert broken_links(document, document.read_text(encoding="utf-8")) == []


def test_the_readme_links_every_document_in_docs() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    targets = {target.partition("#")[0] for target in _LINK.findall(readme)}
    unlinked = [path.name for path in (REPO / "docs").glob("*.md") if f"docs/{path.name}" not in targets]
    assert unlinked == [], f"README.md does not link {unlinked}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see [the format](FORMAT.md)", []),
        ("see [nothing](missing.md)", ["missing.md: no such file"]),
        ("see [up](../README.md) and [code](../diabetes_risk_model/errors.py)", []),
        ("see [a section](FORMAT.md#no-such-section)", ["FORMAT.md#no-such-section: no heading with anchor"]),
        ("# Local heading\n[here](#local-heading)", []),
        ("[remote](https://example.org/missing.md) [mail](mailto:someone@example.org)", []),
        ("```\n[inside a code block](missing.md)\n```", []),
    ],
)
def test_the_link_checker_flags_planted_links(text: str, expected: list[str]) -> None:
    found = broken_links(REPO / "docs" / "planted.md", text)
    assert len(found) == len(expected)
    for message, start in zip(found, expected, strict=True):
        assert message.startswith(start), message


def test_the_slug_matches_githubs_for_our_headings() -> None:
    assert _slug("The HTTP API") == "the-http-api"
    assert _slug("Model settings (`models[0].configuration`)") == "model-settings-models0configuration"
    assert _slug("Data scientist: train, sign, package") == "data-scientist-train-sign-package"
