"""The real Recharge samples the tests use are ../shared/fixtures/real/recharge/, all of them, unchanged.

They are MIT (Airbyte), so they are copied to tests/fixtures/recharge/ with their attribution and the
suite runs without ../shared; when ../shared is present, these tests make sure the copies still match
it byte for byte and that a sample added there is not silently left out here.
"""

from __future__ import annotations

import pytest

from tests.conftest import SHARED_FIXTURES
from tests.unit.recharge.conftest import FIXTURES, RESOURCES

SHARED = SHARED_FIXTURES / "recharge"


def _shared_files() -> list[str]:
    if not SHARED.is_dir():
        pytest.skip("../shared/fixtures/real/recharge is not present")
    return sorted(path.name for path in SHARED.glob("*.json"))


def test_every_shared_sample_is_copied_byte_for_byte() -> None:
    for name in _shared_files():
        copy = FIXTURES / name
        assert copy.exists(), f"{name} is in ../shared but not in tests/fixtures/recharge"
        assert copy.read_bytes() == (SHARED / name).read_bytes(), f"{name} differs from ../shared"


def test_every_shared_sample_is_one_the_tests_exercise() -> None:
    exercised = {f"{resource}__airbyte.json" for resource in RESOURCES}
    assert set(_shared_files()) <= exercised  # RESOURCES drives the per-fixture tests


def test_the_copies_carry_their_attribution() -> None:
    attribution = (FIXTURES / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "MIT" in attribution
    assert "Airbyte" in attribution
    for path in FIXTURES.glob("*.json"):
        assert path.name in attribution
