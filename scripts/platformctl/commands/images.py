"""``platformctl images inputs`` and ``platformctl images changed --since REV``: when must images be rebuilt?

An image is a function of the files its Dockerfile copies (the build context is the repository root, see
``.dockerignore``), of its folder (the Dockerfile and requirements live there), of ``.dockerignore`` itself
and of the manifest (which images exist and where they are pushed). ``inputs`` prints those paths, read
from the Dockerfiles' ``COPY``/``ADD`` sources, so a file a Dockerfile starts to copy is a build input the
moment it is copied; nobody keeps a second list. ``changed`` compares ``git diff --name-only REV HEAD``
with them and prints ``true`` or ``false``: the deploy pipeline builds images only when it prints ``true``,
and deploys with the running images otherwise. An empty, all-zero or unknown REV (a first push, a force
push, a shallow clone) means "build": a build too many costs minutes, a build too few deploys old code.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import shlex
import subprocess
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from platformctl.errors import UserError
from platformctl.manifest import MANIFEST_PATH, REPO_ROOT, Image, load_manifest

# Files every image depends on besides what its Dockerfile copies.
ALWAYS = (".dockerignore",)
# The clone whose history `changed` reads (the tests point it at a throwaway repository).
GIT_ROOT = REPO_ROOT


def _instructions(text: str) -> Iterable[str]:
    """A Dockerfile's instructions, one string each: comments dropped, continuation lines joined."""
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        yield pending + stripped
        pending = ""
    if pending.strip():
        yield pending.strip()


def copied_sources(dockerfile_text: str) -> list[str]:
    """The build-context paths the COPY and ADD instructions read (not those copied from a build stage)."""
    sources: list[str] = []
    for instruction in _instructions(dockerfile_text):
        keyword, _, rest = instruction.partition(" ")
        if keyword.upper() not in {"COPY", "ADD"}:
            continue
        rest = rest.strip()
        words = [str(w) for w in json.loads(rest)] if rest.startswith("[") else shlex.split(rest)
        flags = [w for w in words if w.startswith("--")]
        if any(f.startswith("--from=") for f in flags):
            continue
        arguments = [w for w in words if not w.startswith("--")]
        sources += arguments[:-1]
    return sources


def _as_input(source: str) -> str:
    """A COPY source as a repository path: folders end with '/', './' and leading '/' dropped."""
    path = source.removeprefix("./").lstrip("/")
    if path in {"", "."}:
        return "./"
    if (REPO_ROOT / path).is_dir() and not path.endswith("/"):
        return f"{path}/"
    return path


def image_inputs(image: Image) -> list[str]:
    """Every repository path whose change changes this image."""
    dockerfile = REPO_ROOT / image.dockerfile
    if not dockerfile.is_file():
        raise UserError(f"{image.dockerfile} (image {image.name}) does not exist")
    found = {_as_input(s) for s in copied_sources(dockerfile.read_text(encoding="utf-8"))}
    found |= {image.folder.rstrip("/") + "/", image.dockerfile, *ALWAYS}
    found.add(str(MANIFEST_PATH.relative_to(REPO_ROOT)))
    return sorted(found)


def all_inputs(job: str | None = None) -> list[str]:
    manifest = load_manifest()
    images = [i for i in manifest.images if job in (None, "", "all", i.job)]
    if not images:
        raise UserError(f"no images for job {job!r} in {MANIFEST_PATH.name}")
    found = {path for image in images for path in image_inputs(image)}
    folders = {path for path in found if path.endswith("/")}
    # A path inside a listed folder adds nothing: print the folder alone.
    return sorted(p for p in found if not any(p != f and p.startswith(f) for f in folders))


def matches(changed_file: str, inputs: Sequence[str]) -> bool:
    for item in inputs:
        if item == "./":
            return True
        if item.endswith("/"):
            if changed_file.startswith(item):
                return True
        elif changed_file == item or fnmatch.fnmatchcase(changed_file, item):
            return True
    return False


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed git invocation
        ["git", *args],  # noqa: S607 - git from PATH, as everywhere in CI
        cwd=GIT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def changed_inputs(since: str | None, inputs: Sequence[str]) -> tuple[bool, str]:
    """(must build, why): whether a file among the inputs changed between ``since`` and HEAD."""
    base = (since or "").strip()
    if not base or set(base) == {"0"}:
        return True, "no base commit given: build every image"
    if _git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}").returncode != 0:
        return True, f"base commit {base} is not in this clone (force push or shallow clone?): build every image"
    diff = _git("diff", "--name-only", base, "HEAD", "--")
    if diff.returncode != 0:
        return True, f"git diff {base} HEAD failed ({diff.stderr.strip()}): build every image"
    files = [line for line in diff.stdout.splitlines() if line]
    hits = [f for f in files if matches(f, inputs)]
    if hits:
        shown = ", ".join(hits[:10]) + (f" and {len(hits) - 10} more" if len(hits) > 10 else "")
        return True, f"{len(hits)} image input(s) changed since {base[:12]}: {shown}"
    return False, f"no image input changed since {base[:12]} ({len(files)} file(s) changed)"


def command(args: argparse.Namespace) -> int:
    inputs = all_inputs(args.job)
    if args.images_command == "inputs":
        print("\n".join(inputs))
        return 0
    build, why = changed_inputs(args.since, inputs)
    print(why, file=sys.stderr)
    print("true" if build else "false")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "images",
        help="what the Lambda images are built from, and whether a commit range changed it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="images_command", required=True)
    inputs = sub.add_parser("inputs", help="print every repository path an image is built from")
    inputs.add_argument("--job", help="only this job's images (default: all)")
    inputs.set_defaults(func=command)
    changed = sub.add_parser("changed", help="print true when an image input changed since REV, else false")
    changed.add_argument("--since", required=True, help="base commit (empty or all zeros: build everything)")
    changed.add_argument("--job", help="only this job's images (default: all)")
    changed.set_defaults(func=command)
