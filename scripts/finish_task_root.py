"""Finish a Lambda image's task root for a short cold start. Run by every Dockerfile, last:

    python finish_task_root.py /var/task

1. The AWS SDK data keeps only the services the functions call (``common.aws.SERVICES``). botocore
   ships the models of some 450 services. Making a client lists every service folder (twice) and
   decodes its model, its endpoint rules and the 1.2 MB ``endpoints.json``, through a Python-level
   ``OrderedDict`` hook. The kept models lose their documentation, which only docstrings read, and
   ``endpoints.json`` keeps the entries of the kept services: for those services every endpoint,
   signing name and region resolves as before (tests/unit/test_finish_task_root.py proves it against
   the stock data). The data stays in botocore's own folder, so botocore still treats it as its
   built-in data.
2. The function's own code (``common/`` and the function's package, e.g. ``shopify/order_processor/``:
   everything in the task root that no installed distribution's ``RECORD`` lists) is byte-compiled.
   pip compiles the dependencies, but code copied into the image would be compiled on every cold start: the task
   root is read-only, so the interpreter cannot keep a cache. The ``.pyc`` files are unchecked-hash
   ones, as the image never changes and the interpreter then need not compare them with the source.

Measured by ``bench/shopify_processor.py``, which builds its task roots with this script.
"""

from __future__ import annotations

import compileall
import gzip
import json
import py_compile
import shutil
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOC_KEYS = frozenset({"documentation", "documentationUrl"})
# In these mappings the keys are names (of members, shapes, operations), not properties of the model.
NAME_MAPS = frozenset({"members", "shapes", "operations"})
# botocore reads these whole, documentation included (``ServiceModel.client_context_parameters``).
KEPT_WHOLE = frozenset({"clientContextParams"})
DOCS_ONLY_FILES = ("examples-1.json",)


@dataclass(frozen=True)
class Slimmed:
    bytes_before: int
    bytes_after: int
    services: tuple[str, ...]


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _without_docs(node: Any, keys_are_names: bool = False) -> Any:
    if isinstance(node, dict):
        if keys_are_names:
            return {name: _without_docs(value) for name, value in node.items()}
        return {
            k: v if k in KEPT_WHOLE else _without_docs(v, k in NAME_MAPS) for k, v in node.items() if k not in DOC_KEYS
        }
    if isinstance(node, list):
        return [_without_docs(item) for item in node]
    return node


def _load(path: Path) -> Any:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        return json.loads(handle.read().decode("utf-8"))


def _model_files(version_dir: Path) -> list[Path]:
    return [path for name in ("service-2.json", "service-2.json.gz") if (path := version_dir / name).is_file()]


def _slim_service(service_dir: Path) -> set[str]:
    """Strip the service's models of documentation; returns its endpoint prefixes."""
    prefixes: set[str] = set()
    for version_dir in (path for path in service_dir.iterdir() if path.is_dir()):
        for name in DOCS_ONLY_FILES:
            (version_dir / name).unlink(missing_ok=True)
        for path in _model_files(version_dir):
            model = _without_docs(_load(path))
            prefixes.add(model["metadata"].get("endpointPrefix", service_dir.name))
            path.unlink()
            (version_dir / "service-2.json").write_text(json.dumps(model, separators=(",", ":")), encoding="utf-8")
    return prefixes


def slim_sdk_data(data_dir: Path, services: Collection[str]) -> Slimmed:
    """Keep only ``services`` in botocore's ``data`` folder, in place."""
    if not (data_dir / "endpoints.json").is_file():
        raise SystemExit(f"{data_dir} is not botocore's data folder (no endpoints.json)")
    missing = sorted(name for name in services if not (data_dir / name).is_dir())
    if missing:
        raise SystemExit(f"botocore in {data_dir} has no data for {missing}: check common.aws.SERVICES")
    before = _size(data_dir)
    for path in data_dir.iterdir():
        if path.is_dir() and path.name not in services:
            shutil.rmtree(path)
    prefixes: set[str] = set()
    for name in services:
        prefixes |= _slim_service(data_dir / name)
    endpoints_path = data_dir / "endpoints.json"
    endpoints = _load(endpoints_path)
    for partition in endpoints["partitions"]:
        partition["services"] = {k: v for k, v in partition["services"].items() if k in prefixes}
    endpoints_path.write_text(json.dumps(endpoints, separators=(",", ":")), encoding="utf-8")
    return Slimmed(before, _size(data_dir), tuple(sorted(services)))


def own_code(task_root: Path) -> list[Path]:
    """The task root's entries that pip did not install there (its distributions' RECORDs list theirs)."""
    installed: set[str] = set()
    for record in task_root.glob("*.dist-info/RECORD"):
        installed.update(line.split(",", 1)[0].split("/", 1)[0] for line in record.read_text("utf-8").splitlines())
    return sorted(
        path
        for path in task_root.iterdir()
        if path.name not in installed
        and (path.suffix == ".py" or (path.is_dir() and not path.name.endswith((".dist-info", ".data", "__pycache__"))))
    )


def compile_code(task_root: Path) -> None:
    """Byte-compile the function's own code and the shared library; fails on a syntax error."""
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    compiled = compileall.compile_dir(task_root, maxlevels=0, quiet=1, invalidation_mode=mode)
    for path in own_code(task_root):
        if path.is_dir():
            compiled &= compileall.compile_dir(path, quiet=1, invalidation_mode=mode)
    if not compiled:
        raise SystemExit(f"byte-compiling {task_root} failed")


def services_of(task_root: Path) -> frozenset[str]:
    sys.path.insert(0, str(task_root))
    try:
        from common.aws import SERVICES
    finally:
        sys.path.remove(str(task_root))
    return SERVICES


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: finish_task_root.py TASK_ROOT", file=sys.stderr)
        return 2
    task_root = Path(argv[0])
    slimmed = slim_sdk_data(task_root / "botocore" / "data", services_of(task_root))
    compile_code(task_root)
    print(
        f"SDK data {slimmed.bytes_before / 1e6:.1f} MB -> {slimmed.bytes_after / 1e6:.1f} MB, "
        f"kept {', '.join(slimmed.services)}; code byte-compiled"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
