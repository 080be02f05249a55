from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from platformctl.errors import UserError
from platformctl.manifest import load_manifest


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "ingestion_jobs.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _stack(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "template": f"infrastructure/{name}.yaml", **extra}


def test_the_repository_manifest_loads() -> None:
    manifest = load_manifest()
    assert manifest.stacks[0].key == "shared/cfn-execution"  # the execution role and the permissions boundary
    assert [stack.key for stack in manifest.stacks if stack.bootstrap] == ["shared/cfn-execution", "shared/github-oidc"]
    assert {image.job for image in manifest.images} <= {job.name for job in manifest.jobs}
    assert manifest.stacks[2].stack_name("acme", "prod") == "acme-prod-shared-data-lake"


def test_bootstrap_must_be_a_boolean(tmp_path: Path) -> None:
    path = _write(tmp_path, {"jobs": [{"name": "a", "stacks": [_stack("s", bootstrap="yes")]}]})
    with pytest.raises(UserError, match="'bootstrap' must be true or false"):
        load_manifest(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", "not valid JSON"),
        ({"jobs": {}}, "'jobs' list"),
        ({"jobs": [{"name": "Bad Name", "stacks": []}]}, "bad job name"),
        ({"jobs": [{"name": "a", "stacks": [{"name": "s", "template": "x.txt"}]}]}, "'template' must be a path"),
        ({"jobs": [{"name": "a", "stacks": [_stack("s", inputs={"P": "nowhere"})]}]}, "is not '<job>/<stack>"),
        ({"jobs": [{"name": "a", "stacks": [_stack("s", inputs={"P": "b/t.Out"})]}]}, "not a stack deployed before"),
        ({"jobs": [{"name": "a", "stacks": [_stack("s", images={"P": "ghost"})]}]}, "names image 'ghost'"),
        ({"jobs": [{"name": "a", "stacks": [_stack("s", extra=1)]}]}, "unknown keys"),
        ({"jobs": [{"name": "a", "stacks": [_stack("s"), _stack("s")]}]}, "listed twice"),
        (
            {
                "jobs": [
                    {"name": "a", "stacks": [], "images": [{"name": "i", "folder": "../x", "dockerfile": "Dockerfile"}]}
                ]
            },
            "must be a path inside the repository",
        ),
    ],
)
def test_bad_manifests_name_the_file_and_the_problem(tmp_path: Path, data: Any, message: str) -> None:
    with pytest.raises(UserError, match=message) as caught:
        load_manifest(_write(tmp_path, data))
    assert "ingestion_jobs.json" in str(caught.value)


def test_entries_pointing_nowhere_are_reported(tmp_path: Path) -> None:
    manifest = load_manifest(
        _write(
            tmp_path,
            {
                "jobs": [
                    {
                        "name": "a",
                        "stacks": [_stack("ghost", images={"P": "img"})],
                        "images": [
                            {"name": "img", "folder": "lambdas/ghost", "dockerfile": "lambdas/ghost/Dockerfile"}
                        ],
                    }
                ]
            },
        )
    )
    problems = manifest.missing_files()
    assert any("infrastructure/ghost.yaml does not exist" in p for p in problems)
    assert any("lambdas/ghost/app.py does not exist" in p for p in problems)


def test_select_by_job_and_stack() -> None:
    manifest = load_manifest()
    assert [s.key for s in manifest.select("shared", "ecr")] == ["shared/ecr"]
    assert [s.key for s in manifest.select(None, "shared/ecr")] == ["shared/ecr"]
    with pytest.raises(UserError, match="unknown job"):
        manifest.select("nope")
    with pytest.raises(UserError, match="unknown stack"):
        manifest.select("shared", "nope")
