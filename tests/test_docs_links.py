"""Every relative link in README.md and docs/**/*.md leads somewhere.

The measured history lives in docs/measured/*.md and README links into it by heading, so a renamed
heading or a moved file would leave a reader at a dead link; this walks the real files.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)


def prose(text: str) -> str:
    """The text a reader sees as markdown: code blocks and code spans blanked out."""
    return CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text, not its target
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for m in HEADING.finditer(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(page: Path) -> list[str]:
    return [m.group(1) for m in LINK.finditer(prose(page.read_text(encoding="utf-8")))]


def relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I)


def test_the_history_pages_are_there_and_link_back():
    names = {p.relative_to(REPO).as_posix() for p in PAGES}
    history = ["docs/measured/accuracy-skab.md", "docs/measured/accuracy-nab.md",
               "docs/measured/accuracy-corridor.md", "docs/measured/faults.md",
               "docs/measured/speed.md"]
    assert {"README.md", *history} <= names
    readme = links(REPO / "README.md")
    for name in history:
        assert name in readme, f"README.md does not link {name}"
        assert any(t.startswith("../../README.md") for t in links(REPO / name)), f"{name} does not link back"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(page):
    broken = []
    found = [t for t in links(page) if relative(t)]
    if page.name == "README.md":
        assert found, "README.md has no relative link: the link pattern no longer matches"
    for target in found:
        path, _, frag = target.partition("#")
        dest = (page.parent / unquote(path)).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif frag and dest.suffix == ".md" and unquote(frag) not in anchors(dest):
            broken.append(f"{target}: no heading with that anchor in {dest.relative_to(REPO)}")
    assert broken == [], f"{page.relative_to(REPO)}: " + "; ".join(broken)


def test_the_anchor_rule_is_githubs(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# Restarts, checkpoints and kill -9\n## Accuracy, measured (`bench/accuracy.py`)\n"
                    "## Issue 13's aims on held-out 160–179\n## Notes\n## Notes\n```\n# not a heading\n```\n",
                    encoding="utf-8")
    assert anchors(page) == {"restarts-checkpoints-and-kill--9", "accuracy-measured-benchaccuracypy",
                             "issue-13s-aims-on-held-out-160179", "notes", "notes-1"}
    assert links_in("see [a](x.md#y) and `[b](not-a-link.md)` and ![c](img.png \"t\")") == ["x.md#y", "img.png"]


def links_in(text: str) -> list[str]:
    return [m.group(1) for m in LINK.finditer(prose(text))]
