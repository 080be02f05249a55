"""The supply chain and the pipeline hold together: images are rebuilt whenever a file they are built from
changes, deploys follow builds, every pin is hashed or SHA'd, Dependabot watches every pin, and the deploy
job's environment has what deploying imports."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shlex
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl.commands import images
from platformctl.manifest import Manifest, load_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
DEPLOY_ACTION = REPO_ROOT / ".github" / "actions" / "deploy-environment" / "action.yml"
ROOT_LOCKS = ("requirements-dev", "requirements-checkov", "requirements-deploy")
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)")


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest()


def _yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _on(workflow: dict[str, Any]) -> dict[str, Any]:
    triggers = workflow.get("on", workflow.get(True))  # PyYAML reads a bare `on` as True
    assert isinstance(triggers, dict)
    return triggers


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match:
            found[_normal(match["name"])] = match["version"]
    return found


# ---------------------------------------------------------------------------------- image build trigger


def _copy_sources(dockerfile: Path) -> list[str]:
    """COPY/ADD sources, read here independently of platformctl's parser (continuations joined)."""
    text = dockerfile.read_text(encoding="utf-8").replace("\\\n", " ")
    sources = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True) if line.strip() else []
        if not words or words[0].upper() not in {"COPY", "ADD"}:
            continue
        arguments = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from=") for w in words[1:]):
            continue
        sources += [a.removeprefix("./").rstrip("/") for a in arguments[:-1]]
    return sources


def _inputs_printed(*args: str) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "platformctl", "images", "inputs", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO_ROOT / "scripts"), "PATH": "/usr/bin:/bin"},
    )
    return completed.stdout.split()


def _covered(path: str, inputs: list[str]) -> bool:
    return any(path == i.rstrip("/") or (i.endswith("/") and f"{path}/".startswith(i)) for i in inputs)


def test_images_inputs_cover_every_file_a_dockerfile_copies(manifest: Manifest) -> None:
    inputs = _inputs_printed()
    copied = {source for image in manifest.images for source in _copy_sources(REPO_ROOT / image.dockerfile)}
    assert "scripts/finish_task_root.py" in copied, "the Dockerfiles no longer finish the task root?"
    assert sorted(p for p in copied if not _covered(p, inputs)) == []
    folders = {image.folder for image in manifest.images}
    assert sorted(f for f in folders if not _covered(f, inputs)) == []
    assert {".dockerignore", "ci/ingestion_jobs.json"} <= set(inputs)


def test_a_job_narrows_the_inputs_to_its_images(manifest: Manifest) -> None:
    recharge = _inputs_printed("--job", "recharge")
    assert "lambdas/recharge/webhook/" in recharge
    assert not any(p.startswith("lambdas/shopify/") for p in recharge)


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway repository with a first commit; ``images`` looks at it instead of this one."""
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "ci@example.com")
    _git(tmp_path, "config", "user.name", "ci")
    for name in ("scripts/finish_task_root.py", "infrastructure/shared/ecr.yaml", "lambdas/common/aws.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("v1\n", encoding="utf-8")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "first")
    monkeypatch.setattr(images, "GIT_ROOT", tmp_path)
    return tmp_path


def _commit(repo: Path, name: str) -> str:
    base = _git(repo, "rev-parse", "HEAD")
    (repo / name).write_text("v2\n", encoding="utf-8")
    _git(repo, "commit", "-q", "-am", f"change {name}")
    return base


def test_a_change_to_the_task_root_finisher_rebuilds_the_images(history: Path) -> None:
    inputs = images.all_inputs()
    base = _commit(history, "scripts/finish_task_root.py")
    build, why = images.changed_inputs(base, inputs)
    assert build, why
    assert "scripts/finish_task_root.py" in why


def test_an_infrastructure_only_change_builds_nothing(history: Path) -> None:
    base = _commit(history, "infrastructure/shared/ecr.yaml")
    build, why = images.changed_inputs(base, images.all_inputs())
    assert not build, why


@pytest.mark.parametrize("base", ["", "0" * 40, "f" * 40])
def test_no_or_an_unknown_base_builds_everything(history: Path, base: str) -> None:
    build, why = images.changed_inputs(base, images.all_inputs())
    assert build, why


def test_images_changed_prints_true_or_false(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from platformctl.cli import main

    base = _commit(history, "lambdas/common/aws.py")
    assert main(["images", "changed", "--since", base]) == 0
    assert capsys.readouterr().out == "true\n"
    assert main(["images", "changed", "--since", "HEAD"]) == 0
    assert capsys.readouterr().out == "false\n"


# --------------------------------------------------------------------------------------------- pipeline


def test_the_deploy_workflow_is_the_pipeline_staging_then_production() -> None:
    workflow = _yaml(WORKFLOWS / "deploy-infrastructure.yml")
    on = _on(workflow)
    assert set(on) == {"push", "workflow_dispatch"}
    assert on["push"] == {"branches": ["main"]}, "no paths filter: every push to main deploys"
    assert set(on["workflow_dispatch"]["inputs"]) == {"job", "dry_run"}
    jobs = workflow["jobs"]
    assert list(jobs) == ["staging", "production"]
    assert jobs["staging"]["environment"] == "staging"
    assert jobs["production"]["environment"] == "production"
    assert jobs["production"]["needs"] == "staging"
    assert "AUTO_DEPLOY_INFRASTRUCTURE" in jobs["staging"]["if"]
    for name, environment in (("staging", "staging"), ("production", "prod")):
        steps = jobs[name]["steps"]
        assert steps[0]["uses"].startswith("actions/checkout@")
        assert steps[0]["with"]["fetch-depth"] == 0
        assert steps[1]["uses"] == "./.github/actions/deploy-environment"
        given = steps[1]["with"]
        assert given["environment"] == environment
        assert given["build-role-arn"] == "${{ secrets.AWS_BUILD_ROLE_ARN }}"
        assert given["deploy-role-arn"] == "${{ secrets.AWS_DEPLOY_ROLE_ARN }}"
        assert "AUTO_BUILD_INGESTION_JOB" in given["build-job"]
        assert "AUTO_DEPLOY_INGESTION_JOB" in given["deploy-job"]
        assert "AUTO_BUILD_LAMBDAS" in given["auto-build"]
    assert (REPO_ROOT / "ci" / "environments" / "staging").is_dir()
    assert (REPO_ROOT / "ci" / "environments" / "prod").is_dir()


def test_an_environment_builds_before_it_deploys_and_each_with_its_own_role() -> None:
    steps = _yaml(DEPLOY_ACTION)["runs"]["steps"]
    runs = [str(step.get("run", "")) for step in steps]
    uses = [str(step.get("uses", "")) for step in steps]

    def index(predicate: Any) -> int:
        return next(i for i, step in enumerate(steps) if predicate(step, runs[i], uses[i]))

    install = index(lambda s, r, u: "requirements-deploy.txt" in r)
    assert "--require-hashes -r requirements-deploy.txt" in runs[install]
    assert "--no-deps -e ." in runs[install]
    decide = index(lambda s, r, u: "platformctl images changed --since" in r)
    build_role = index(lambda s, r, u: "build-role-arn" in str(s.get("with", {}).get("role-to-assume", "")))
    build = index(lambda s, r, u: "build_push_lambdas.sh" in r)
    deploy_role = index(lambda s, r, u: "deploy-role-arn" in str(s.get("with", {}).get("role-to-assume", "")))
    deploy = index(lambda s, r, u: "platformctl deploy" in r)
    assert install < decide < build_role < build < deploy_role < deploy
    assert steps[build_role]["if"] == steps[build]["if"] == "steps.images.outputs.build == 'true'"
    assert '--tag "$GITHUB_SHA"' in runs[build]
    assert '--image-tag "$GITHUB_SHA"' in runs[deploy]
    assert "--ci" in runs[deploy]
    assert "--keep-running-images" in runs[deploy]
    assert "make venv" not in "".join(runs), "the deploy job installs only what deploying needs"


def test_build_containers_is_a_manual_rebuild_with_the_build_role() -> None:
    workflow = _yaml(WORKFLOWS / "build-containers.yml")
    assert set(_on(workflow)) == {"workflow_dispatch"}, "pushes build inside the pipeline, never racing it"
    assert set(_on(workflow)["workflow_dispatch"]["inputs"]) == {"environment", "job"}
    text = (WORKFLOWS / "build-containers.yml").read_text(encoding="utf-8")
    assert "AWS_BUILD_ROLE_ARN" in text
    assert "AWS_DEPLOY_ROLE_ARN" not in text


def test_only_the_pipeline_uses_the_deploy_role() -> None:
    users = [p.name for p in WORKFLOWS.glob("*.yml") if "AWS_DEPLOY_ROLE_ARN" in p.read_text(encoding="utf-8")]
    assert users == ["deploy-infrastructure.yml"]


# ---------------------------------------------------------------------------------------- locks and pins


def _lock_pairs() -> list[tuple[Path, Path]]:
    pairs = [(REPO_ROOT / f"{name}.in", REPO_ROOT / f"{name}.txt") for name in ROOT_LOCKS]
    pairs += [(p, p.with_suffix(".txt")) for p in sorted((REPO_ROOT / "lambdas").rglob("requirements.in"))]
    return pairs


@pytest.mark.parametrize(("source", "lock"), _lock_pairs(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_lock_is_hashed_and_holds_its_hand_pins(source: Path, lock: Path) -> None:
    text = lock.read_text(encoding="utf-8")
    assert "scripts/lock_requirements.sh" in text.split("\n\n")[0], f"{lock.name}: the header names how to regenerate"
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("#\n", 3)[-1].strip())
    for entry in entries:
        if entry.startswith("#"):
            continue
        assert _PIN.match(entry), f"{lock}: {entry.splitlines()[0]} is not pinned with =="
        assert "--hash=sha256:" in entry, f"{lock}: {entry.splitlines()[0]} has no hash"
    locked = _pins(lock)
    for name, version in _pins(source).items():
        assert locked.get(name) == version, f"{lock}: {name} is not {version} as {source.name} pins it"


def test_images_and_deploys_run_what_the_tests_ran(manifest: Manifest) -> None:
    dev = _pins(REPO_ROOT / "requirements-dev.txt")
    for lock in [
        REPO_ROOT / "requirements-deploy.txt",
        *(REPO_ROOT / i.folder / "requirements.txt" for i in manifest.images),
    ]:
        differ = {n: v for n, v in _pins(lock).items() if n in dev and dev[n] != v}
        assert differ == {}, f"{lock.relative_to(REPO_ROOT)} pins these unlike requirements-dev.txt: {differ}"


def test_every_install_requires_hashes(manifest: Manifest) -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    for lock in ("requirements-dev.txt", "requirements-checkov.txt"):
        assert re.search(rf"pip install .*--require-hashes -r {lock}", makefile), lock
    for image in manifest.images:
        text = (REPO_ROOT / image.dockerfile).read_text(encoding="utf-8")
        installs = [line for line in text.splitlines() if "pip install" in line]
        assert installs, image.dockerfile
        assert all("--require-hashes" in line for line in installs), image.dockerfile
        froms = [line.split()[1] for line in text.splitlines() if line.startswith("FROM ")]
        assert froms, image.dockerfile
        assert all(re.search(r"@sha256:[0-9a-f]{64}$", f) for f in froms), image.dockerfile


def test_dependabot_watches_every_pin(manifest: Manifest) -> None:
    config = _yaml(REPO_ROOT / ".github" / "dependabot.yml")
    watched: dict[str, set[str]] = {}
    for update in config["updates"]:
        folders = update.get("directories") or [update["directory"]]
        watched.setdefault(update["package-ecosystem"], set()).update(f.rstrip("/") or "/" for f in folders)
    assert "/" in watched["github-actions"]
    assert "/" in watched["pip"], "requirements-dev/checkov/deploy"
    for image in manifest.images:
        folder = "/" + image.folder
        assert folder in watched["docker"], f"{image.dockerfile}: its base image is not watched"
        if (REPO_ROOT / image.folder / "requirements.txt").exists():
            assert folder in watched["pip"], f"{image.folder}/requirements.txt is not watched"
    # No stale entries: every watched folder still exists.
    for ecosystem, folders in watched.items():
        stale = [f for f in folders if "*" not in f and not (REPO_ROOT / f.lstrip("/")).is_dir()]
        assert stale == [], f"{ecosystem}: {stale}"


# ---------------------------------------------------------------------------------- the deploy job's env


def _module_file(module: str) -> Path | None:
    base = REPO_ROOT / "scripts" / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, *, nested: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = ast.walk(tree) if nested else iter(tree.body)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.If | ast.Try) and not nested:
            found |= _imports_of_block(node)
    return found


def _imports_of_block(node: ast.AST) -> set[str]:
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Import):
            found |= {alias.name for alias in child.names}
        elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
            found.add(child.module)
    return found


def _deploy_path_imports() -> set[str]:
    """Third-party top-level modules that ``platformctl deploy`` can import.

    The CLI imports every command module when it builds its parser (module-level imports), and a deploy
    runs ``platformctl.deploy`` and ``platformctl.aws_target`` and whatever they import, at any depth.
    """
    commands = REPO_ROOT / "scripts" / "platformctl" / "commands"
    queue: list[tuple[str, bool]] = [("platformctl.cli", False), ("platformctl.deploy", True)]
    queue += [("platformctl.aws_target", True)]
    queue += [(f"platformctl.commands.{p.stem}", False) for p in commands.glob("*.py")]
    seen: set[tuple[str, bool]] = set()
    third_party: set[str] = set()
    while queue:
        module, nested = queue.pop()
        if (module, nested) in seen:
            continue
        seen.add((module, nested))
        path = _module_file(module)
        assert path is not None, module
        for name in _imports(path, nested=nested):
            top = name.split(".")[0]
            if top == "platformctl":
                if _module_file(name) is not None:
                    queue.append((name, nested or name in {"platformctl.deploy", "platformctl.aws_target"}))
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    return third_party


def test_requirements_deploy_has_every_import_of_the_deploy_path() -> None:
    modules = _deploy_path_imports()
    assert {"boto3", "botocore", "yaml"} <= modules
    distributions = importlib.metadata.packages_distributions()
    locked = _pins(REPO_ROOT / "requirements-deploy.txt")
    missing = {
        m: distributions.get(m) for m in modules if not any(_normal(d) in locked for d in distributions.get(m, []))
    }
    assert missing == {}, f"imported on the deploy path but not in requirements-deploy: {missing}"


@pytest.mark.slow
def test_the_deploy_environment_runs_platformctl_deploy(tmp_path: Path) -> None:
    """A venv made from requirements-deploy.txt alone imports the deploy path and prints deploy's help."""
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / "bin" / "python"
    lock = REPO_ROOT / "requirements-deploy.txt"
    # -I: the caller's PYTHONPATH (say, scripts/ with its egg-info) must not leak into what pip sees.
    install = [str(python), "-I", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*install, "--require-hashes", "-r", str(lock)], check=True, timeout=600)
    env = {"PYTHONPATH": str(REPO_ROOT / "scripts"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    probe = "import platformctl.cli, platformctl.deploy, platformctl.aws_target; print('imported')"
    imported = subprocess.run([str(python), "-c", probe], env=env, capture_output=True, text=True, check=False)
    assert imported.returncode == 0, imported.stderr
    helped = subprocess.run(
        [str(python), "-m", "platformctl", "deploy", "--help"], env=env, capture_output=True, text=True, check=False
    )
    assert helped.returncode == 0, helped.stderr
    assert "--image-tag" in helped.stdout
    frozen = subprocess.run([str(python), "-I", "-m", "pip", "freeze"], capture_output=True, text=True, check=True)
    installed = {_normal(line.split("==")[0]) for line in frozen.stdout.splitlines() if "==" in line}
    assert installed == set(_pins(lock)), "the deploy environment holds exactly the lock"
    assert json.dumps(sorted(installed))  # readable on failure


def _runtime_imports(tree: ast.AST) -> list[str]:
    """Module names a file imports at run time: absolute imports, wherever they stand (an import inside a
    function still runs in the image), except under ``if TYPE_CHECKING:``."""
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }
    names: list[str] = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def _function_imports(function_folder: Path) -> tuple[set[str], set[str]]:
    """What a function's code imports at run time, following its imports of ``common`` and of its own
    package: the top-level third-party packages, and the platform modules outside both."""
    lambdas = REPO_ROOT / "lambdas"
    own = function_folder.relative_to(lambdas).as_posix().replace("/", ".")
    todo = [p for p in function_folder.glob("*.py") if not p.name.startswith("test_")]
    seen: set[Path] = set()
    third_party: set[str] = set()
    foreign: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            top = name.split(".")[0]
            module = lambdas / name.replace(".", "/")
            if top == "common" or name == own or name.startswith(f"{own}."):
                todo += [p for p in (module.with_suffix(".py"), module / "__init__.py") if p.is_file()]
            elif (lambdas / top).is_dir():
                foreign.add(name)
            elif top not in sys.stdlib_module_names:
                third_party.add(top)
    return third_party, foreign


def _third_party_imports(function_folder: Path) -> set[str]:
    return _function_imports(function_folder)[0]


def test_a_function_imports_only_common_and_its_own_package() -> None:
    """An image holds ``common`` and its own package only; the local cloud's workers have all of
    ``lambdas/`` on their path, so an import of another function's module would work there alone."""
    for app in sorted((REPO_ROOT / "lambdas").glob("*/*/app.py")):
        foreign = _function_imports(app.parent)[1]
        assert not foreign, f"{app.parent.relative_to(REPO_ROOT)} imports {sorted(foreign)}, which its image lacks"


def _locked(requirements_txt: Path) -> set[str]:
    names = re.findall(r"^([A-Za-z0-9_.-]+)==", requirements_txt.read_text(encoding="utf-8"), re.MULTILINE)
    return {re.sub(r"[-_.]+", "-", n).lower() for n in names}


def test_every_package_a_function_imports_is_in_its_image() -> None:
    """The local cloud runs the handlers in the dev environment, where every package is installed: an image
    whose lock lacks a package its code imports (through ``common`` too) would fail only on AWS."""
    distributions = importlib.metadata.packages_distributions()
    for requirements in sorted((REPO_ROOT / "lambdas").rglob("requirements.txt")):
        locked = _locked(requirements)
        for package in sorted(_third_party_imports(requirements.parent)):
            owners = {re.sub(r"[-_.]+", "-", d).lower() for d in distributions.get(package, [package])}
            assert owners & locked, f"{requirements.parent.relative_to(REPO_ROOT)} imports {package}, not in its lock"


def test_an_image_pins_requests_exactly_when_its_code_imports_it() -> None:
    for requirements in sorted((REPO_ROOT / "lambdas").rglob("requirements.in")):
        pinned = any(line.startswith("requests==") for line in requirements.read_text().splitlines())
        imported = "requests" in _third_party_imports(requirements.parent)
        assert pinned == imported, f"{requirements.relative_to(REPO_ROOT)}: pinned {pinned}, imported {imported}"
