"""Every relative link of README.md and docs/*.md points at a file that exists (and, with a #fragment into a
Markdown file, at one of its headings); every docs page is linked from the README and links back to it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def without_fences(text: str) -> str:
    """The text without its fenced code blocks."""
    return re.sub(r"^( *)```.*?^\1```", "", text, flags=re.S | re.M)


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are code, not links."""
    return re.sub(r"`[^`\n]*`", "", without_fences(text))


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", without_fences(path.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def links(path: Path) -> list[str]:
    return [target for target in LINK.findall(prose(path.read_text()))
            if not re.match(r"[a-z][a-z0-9+.-]*:", target)]  # http:, https:, mailto: are not checked


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page):
        file, _, fragment = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        if not resolved.exists():
            broken.append(f"{target}: no file {resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT) else resolved}")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{target}: no heading #{fragment} in {resolved.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)


def test_every_docs_page_is_linked_from_the_readme_and_back():
    readme = {(ROOT / target.partition("#")[0]).resolve() for target in links(ROOT / "README.md")}
    for page in PAGES[1:]:
        assert page in readme, f"README.md does not link to {page.relative_to(ROOT)}"
        back = {(page.parent / target.partition("#")[0]).resolve() for target in links(page)}
        assert ROOT / "README.md" in back, f"{page.relative_to(ROOT)} does not link back to the README"
