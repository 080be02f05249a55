"""`make test` runs every test folder: the clocked and wall-clock passes plus integration are pyproject's testpaths."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import REPO_ROOT


def _make_variable(name: str) -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{name}\s*:?=\s*(.*)$", text, flags=re.MULTILINE)
    assert match, f"the Makefile defines no {name}"
    return set(match.group(1).split())


def test_the_test_passes_cover_every_test_folder_once() -> None:
    testpaths = set(
        tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["testpaths"]
    )
    clocked, wall_clock = _make_variable("CLOCKED_TESTS"), _make_variable("WALL_CLOCK_TESTS")
    assert not clocked & wall_clock, "a folder runs in both passes"
    assert clocked | wall_clock | {"tests/integration"} == testpaths
    on_disk = {f"tests/{p.name}" for p in (REPO_ROOT / "tests").iterdir() if p.is_dir() and any(p.rglob("test_*.py"))}
    assert on_disk <= testpaths, f"test folders pytest would not collect: {sorted(on_disk - testpaths)}"
