"""Every "docs/spec.md sN" the code and docs cite names a section that docs/spec.md has."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "docs" / "spec.md"
SOURCES = ("vz_env", "agents", "algorithms", "vz_spy", "tiny_vlm", "benchmarks", "examples", "tests", "docs")
CITATION = re.compile(r"spec\.md(?:#| )(s\d+(?:(?:-|/|, )s\d+)*)")


def _cited_sections(text: str) -> set[int]:
    """Section numbers of every citation: "spec.md s6", "spec.md#s6", "spec.md s2-s5, s8", "spec.md s4/s5"."""
    sections: set[int] = set()
    for match in CITATION.finditer(text):
        for part in re.split(r"/|, ", match.group(1)):
            first, _, last = part.partition("-")
            sections.update(range(int(first[1:]), int((last or first)[1:]) + 1))
    return sections


def _files() -> list[Path]:
    files = [ROOT / "README.md"]
    for folder in SOURCES:
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".md")]
    return files


def test_spec_sections_are_numbered_and_anchored() -> None:
    text = SPEC.read_text()
    headings = [int(n) for n in re.findall(r"^## (\d+)\. ", text, re.MULTILINE)]
    anchors = [int(n) for n in re.findall(r'^<a id="s(\d+)"></a>$', text, re.MULTILINE)]
    assert headings == list(range(1, len(headings) + 1)) and headings == anchors


def test_every_cited_section_exists() -> None:
    sections = set(int(n) for n in re.findall(r"^## (\d+)\. ", SPEC.read_text(), re.MULTILINE))
    cited = {path.relative_to(ROOT).as_posix(): _cited_sections(path.read_text()) for path in _files()}
    missing = {path: sorted(found - sections) for path, found in cited.items() if found - sections}
    assert not missing, f"citations of sections docs/spec.md lacks: {missing}"
    assert set().union(*cited.values()) >= {3, 4, 5, 6, 10}


def test_citation_forms_are_read() -> None:
    text = "docs/spec.md s2-s5, s8 and [spec.md s6](spec.md#s6) (docs/spec.md s4/s5; docs/spec.md s10)"
    assert _cited_sections(text) == {2, 3, 4, 5, 6, 8, 10}
