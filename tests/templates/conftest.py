"""Every template of the repository, parsed once, for the contract tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from platformctl.manifest import Manifest, load_manifest
from platformctl.templates import load_template
from tests.templates.cfn import template_paths


@pytest.fixture(scope="session")
def manifest() -> Manifest:
    return load_manifest()


@pytest.fixture(scope="session")
def templates() -> dict[Path, dict[str, Any]]:
    return {path: load_template(path) for path in template_paths()}
