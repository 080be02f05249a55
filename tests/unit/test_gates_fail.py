"""Every gate must be able to fail: each is fed a known-bad sample and must reject it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from platformctl import lint
from platformctl.manifest import REPO_ROOT

SAMPLES = REPO_ROOT / "tests" / "lint_samples"


def _require_tool(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} is not installed; `make tools` installs it (make test always does)")


def test_cfn_lint_rejects_a_bad_template() -> None:
    code, output = lint.cfn_lint([(SAMPLES / "bad-template.yaml", {"Brand": "acme"})])
    assert code != 0
    assert "NotAProperty" in output or "E3002" in output


def test_cfn_lint_rejects_a_missing_parameter() -> None:
    code, output = lint.cfn_lint([(SAMPLES / "bad-template.yaml", {})])
    assert code != 0
    assert "Brand" in output


def test_checkov_rejects_an_open_bucket() -> None:
    _require_tool(lint.CHECKOV)
    code, output = lint.checkov([SAMPLES / "checkov-bad.yaml"])
    assert code != 0
    assert "CKV_AWS" in output


def test_ruff_rejects_bad_python() -> None:
    code, output = lint.ruff([SAMPLES / "bad_ruff.py"])
    assert code != 0
    assert "F401" in output


def test_mypy_rejects_a_type_error() -> None:
    code, output = lint.mypy([SAMPLES / "bad_types.py"])
    assert code != 0
    assert "arg-type" in output


def test_shellcheck_rejects_unquoted_expansions() -> None:
    code, output = lint.shellcheck([SAMPLES / "bad.sh"])
    assert code != 0
    assert "SC2086" in output


def test_hadolint_rejects_an_unpinned_image() -> None:
    code, output = lint.hadolint([SAMPLES / "Dockerfile.bad"])
    assert code != 0
    assert "DL3007" in output


def test_actionlint_rejects_a_broken_expression() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    _require_tool(REPO_ROOT / ".tools" / "node_modules" / "@tktco" / "node-actionlint")
    code, output = lint.actionlint([SAMPLES / "bad-workflow.yml"])
    assert code != 0
    assert "bad-workflow.yml" in output


def test_unknown_gate_is_a_clear_error() -> None:
    from platformctl.errors import UserError

    with pytest.raises(UserError, match="unknown gate"):
        lint.run_gates(["spellcheck"])


def test_pins_rejects_tags_branches_and_undigested_images() -> None:
    code, output = lint.pins([SAMPLES / "unpinned-workflow.yml", SAMPLES / "Dockerfile.bad"])
    assert code != 0
    lines = output.splitlines()
    # One line per offence, each naming file:line; the SHA-pinned action with its comment and the local
    # action pass.
    assert any("unpinned-workflow.yml:7:" in line and "actions/checkout@v4" in line for line in lines)
    assert any("unpinned-workflow.yml:8:" in line and "@main" in line for line in lines)
    assert any("unpinned-workflow.yml:9:" in line and "61815dc" in line for line in lines)
    assert any("unpinned-workflow.yml:10:" in line and "# vX.Y.Z" in line for line in lines)
    assert any("unpinned-workflow.yml:13:" in line and "docker://alpine:3.20" in line for line in lines)
    assert any("Dockerfile.bad:1:" in line and "python:latest" in line for line in lines)
    assert not any(":11:" in line or ":12:" in line for line in lines), output
    assert len(lines) == 6, output


def test_pins_accepts_shas_with_release_comments_and_digests(tmp_path: Path) -> None:
    workflow = tmp_path / "ok.yml"
    workflow.write_text(
        "jobs:\n  x:\n    steps:\n"
        "      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1\n"
        "      - uses: ./.github/actions/deploy-environment\n",
        encoding="utf-8",
    )
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        f"FROM public.ecr.aws/lambda/python:3.11@sha256:{'a' * 64} AS build\nFROM build\n", encoding="utf-8"
    )
    code, output = lint.pins([workflow, dockerfile])
    assert code == 0, output
