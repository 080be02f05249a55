"""Which module a local worker imports, and from where: the image's CMD, read as Lambda reads it, and the
task root the image's layout implies (the folder the handler's module path is under)."""

from __future__ import annotations

from pathlib import Path

import pytest

from platformctl.errors import UserError
from platformctl.localcloud.lambda_runtime import image_handler, task_root
from platformctl.manifest import REPO_ROOT, load_manifest


def test_every_image_runs_its_package_from_the_lambdas_folder() -> None:
    for image in load_manifest().images:
        handler = image_handler(REPO_ROOT / image.dockerfile)
        assert task_root(REPO_ROOT / image.folder, handler) == REPO_ROOT / "lambdas", image.name
        assert (REPO_ROOT / "lambdas" / f"{handler.rpartition('.')[0].replace('.', '/')}.py").is_file(), handler


def test_a_flat_handler_runs_from_its_own_folder(tmp_path: Path) -> None:
    assert task_root(tmp_path / "probe", "app.handler") == tmp_path / "probe"


def test_a_handler_outside_its_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is not a module of"):
        task_root(tmp_path / "lambdas" / "shopify" / "order_processor", "shopify.cart_processor.app.handler")


@pytest.mark.parametrize(
    ("cmd", "problem"),
    [
        ("", "no CMD"),
        ('CMD ["app.handler", "extra"]', "one handler in JSON form"),
        ("CMD app.handler", "one handler in JSON form"),
    ],
)
def test_a_dockerfile_without_one_json_handler_is_refused(tmp_path: Path, cmd: str, problem: str) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM scratch\n{cmd}\n", encoding="utf-8")
    with pytest.raises(UserError, match=problem):
        image_handler(dockerfile)
