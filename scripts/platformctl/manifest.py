"""ci/ingestion_jobs.json: the one list of jobs, their stacks (in deploy order) and Lambda images.

Everything that needs to know which stacks or images exist reads them from here: the deploy tool, the
lint gates, the local cloud, the build script (through ``platformctl manifest``) and the contract tests.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platformctl.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFEST_PATH = REPO_ROOT / "ci" / "ingestion_jobs.json"
ENVIRONMENTS_DIR = REPO_ROOT / "ci" / "environments"
SETTINGS_FILE = "settings.json"

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_INPUT = re.compile(r"^(?P<job>[a-z][a-z0-9-]*)/(?P<stack>[a-z][a-z0-9-]*)\.(?P<output>[A-Za-z0-9]+)$")


@dataclass(frozen=True)
class Image:
    name: str  # also the ECR repository name after "<brand>/"
    folder: str  # lambdas/<source>/<function>: app.py, requirements.txt
    dockerfile: str
    job: str

    @property
    def repository_output(self) -> str:
        """The ecr stack's output holding this image's repository URI."""
        return "".join(part.capitalize() for part in self.name.split("-")) + "RepositoryUri"


@dataclass(frozen=True)
class OutputRef:
    job: str
    stack: str
    output: str

    def __str__(self) -> str:
        return f"{self.job}/{self.stack}.{self.output}"


@dataclass(frozen=True)
class Upload:
    """A repo folder the stack needs in S3 before it deploys (Glue scripts, say)."""

    source: str  # folder relative to the repo root
    bucket: OutputRef  # the output naming the bucket
    prefix: str  # key prefix, ending in "/"


@dataclass(frozen=True)
class Stack:
    job: str
    name: str
    template: str
    inputs: dict[str, OutputRef] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)  # parameter -> image name
    uploads: tuple[Upload, ...] = ()
    environments_dir: Path | None = None  # None: ci/environments
    bootstrap: bool = False  # deployed by an administrator only (the CI roles); CI skips it

    @property
    def key(self) -> str:
        return f"{self.job}/{self.name}"

    @property
    def template_path(self) -> Path:
        return REPO_ROOT / self.template

    def stack_name(self, brand: str, environment: str) -> str:
        return f"{brand}-{environment}-{self.job}-{self.name}"

    def parameter_file(self, environment: str) -> Path:
        return (self.environments_dir or ENVIRONMENTS_DIR) / environment / self.job / f"{self.name}.json"

    def settings_file(self, environment: str) -> Path:
        """The environment's shared settings (Brand, ShopDomain, ...), fed to every stack that declares them."""
        return (self.environments_dir or ENVIRONMENTS_DIR) / environment / SETTINGS_FILE

    @property
    def fed_parameters(self) -> set[str]:
        return set(self.inputs) | set(self.images)


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    stacks: tuple[Stack, ...]
    images: tuple[Image, ...]


@dataclass(frozen=True)
class Manifest:
    jobs: tuple[Job, ...]
    path: Path = MANIFEST_PATH

    @property
    def stacks(self) -> list[Stack]:
        return [stack for job in self.jobs for stack in job.stacks]

    @property
    def images(self) -> list[Image]:
        return [image for job in self.jobs for image in job.images]

    def job(self, name: str) -> Job:
        for job in self.jobs:
            if job.name == name:
                return job
        raise UserError(f"unknown job {name!r}; jobs are: {', '.join(j.name for j in self.jobs)}")

    def image(self, name: str) -> Image:
        for image in self.images:
            if image.name == name:
                return image
        raise UserError(f"unknown image {name!r} in {self.path.name}")

    def select(self, job: str | None = None, stack: str | None = None) -> list[Stack]:
        """Stacks in deploy order, narrowed to one job and/or one stack name (``name`` or ``job/name``)."""
        chosen = self.job(job).stacks if job else tuple(self.stacks)
        if stack is None:
            return list(chosen)
        matches = [s for s in chosen if stack in (s.name, s.key)]
        if not matches:
            names = ", ".join(s.key for s in chosen)
            raise UserError(f"unknown stack {stack!r}; stacks are: {names}")
        if len(matches) > 1:
            raise UserError(f"stack name {stack!r} is ambiguous; use one of {[s.key for s in matches]}")
        return matches

    def missing_files(self, stacks: list[Stack] | None = None) -> list[str]:
        """Entries that point at nothing: templates, image folders, Dockerfiles, upload folders."""
        chosen = self.stacks if stacks is None else stacks
        rel = self.path.name
        problems = [
            f"{rel}: stack {s.key}: template {s.template} does not exist"
            for s in chosen
            if not s.template_path.is_file()
        ]
        problems += [
            f"{rel}: stack {s.key}: upload source {u.source} is not a folder"
            for s in chosen
            for u in s.uploads
            if not (REPO_ROOT / u.source).is_dir()
        ]
        images = {name for s in chosen for name in s.images.values()} if stacks is not None else None
        for image in self.images:
            if images is not None and image.name not in images:
                continue
            if not (REPO_ROOT / image.folder / "app.py").is_file():
                problems.append(f"{rel}: image {image.name}: {image.folder}/app.py does not exist")
            if not (REPO_ROOT / image.dockerfile).is_file():
                problems.append(f"{rel}: image {image.name}: {image.dockerfile} does not exist")
        return problems

    def environments(self) -> list[str]:
        folder = ENVIRONMENTS_DIR if self.path == MANIFEST_PATH else self.path.parent / "environments"
        return sorted(p.name for p in folder.iterdir() if p.is_dir())


def _require(condition: bool, where: str, problem: str) -> None:
    if not condition:
        raise UserError(f"{where}: {problem}")


def _parse_stack(job: str, raw: Any, where: str, earlier: set[str], environments_dir: Path | None) -> Stack:
    _require(isinstance(raw, dict), where, "a stack must be an object")
    name, template = raw.get("name"), raw.get("template")
    _require(isinstance(name, str) and bool(_NAME.match(name)), where, f"bad stack name {name!r}")
    where = f"{where} ({job}/{name})"
    _require(
        isinstance(template, str) and template.endswith((".yaml", ".yml", ".json")),
        where,
        "'template' must be a path to a .yaml or .json file",
    )
    inputs: dict[str, OutputRef] = {}
    for parameter, source in (raw.get("inputs") or {}).items():
        match = _INPUT.match(source) if isinstance(source, str) else None
        if match is None:
            raise UserError(f"{where}: input {parameter} = {source!r} is not '<job>/<stack>.<OutputKey>'")
        ref = OutputRef(match["job"], match["stack"], match["output"])
        _require(
            f"{ref.job}/{ref.stack}" in earlier,
            where,
            f"input {parameter} reads {ref}, which is not a stack deployed before this one",
        )
        inputs[parameter] = ref
    images = raw.get("images") or {}
    _require(
        isinstance(images, dict) and all(isinstance(v, str) for v in images.values()),
        where,
        "'images' must map parameter names to image names",
    )
    uploads = []
    for entry in raw.get("uploads") or []:
        source, bucket, prefix = (
            entry.get(k) if isinstance(entry, dict) else None for k in ("source", "bucket", "prefix")
        )
        bucket_match = _INPUT.match(bucket) if isinstance(bucket, str) else None
        if (
            bucket_match is None
            or not isinstance(source, str)
            or not isinstance(prefix, str)
            or not prefix.endswith("/")
        ):
            raise UserError(
                f'{where}: an upload is {{"source": "<folder>", "bucket": "<job>/<stack>.<Output>", '
                f'"prefix": "<prefix>/"}}, got {entry!r}'
            )
        ref = OutputRef(bucket_match["job"], bucket_match["stack"], bucket_match["output"])
        _require(f"{ref.job}/{ref.stack}" in earlier, where, f"upload bucket {ref} is not an earlier stack's output")
        uploads.append(Upload(source, ref, prefix))
    bootstrap = raw.get("bootstrap", False)
    _require(isinstance(bootstrap, bool), where, "'bootstrap' must be true or false")
    unknown = set(raw) - {"name", "template", "inputs", "images", "uploads", "bootstrap"}
    _require(not unknown, where, f"unknown keys {sorted(unknown)}")
    return Stack(
        job=job,
        name=name,
        template=template,
        inputs=inputs,
        images=dict(images),
        uploads=tuple(uploads),
        environments_dir=environments_dir,
        bootstrap=bootstrap,
    )


def _parse_image(job: str, raw: Any, where: str) -> Image:
    _require(isinstance(raw, dict), where, "an image must be an object")
    name, folder, dockerfile = raw.get("name"), raw.get("folder"), raw.get("dockerfile")
    _require(isinstance(name, str) and bool(_NAME.match(name)), where, f"bad image name {name!r}")
    where = f"{where} (image {name})"
    _require(
        isinstance(folder, str) and bool(folder) and not folder.startswith("/") and ".." not in folder,
        where,
        f"folder {folder!r} must be a path inside the repository",
    )
    _require(isinstance(dockerfile, str) and dockerfile.endswith("Dockerfile"), where, f"bad dockerfile {dockerfile!r}")
    return Image(name=name, folder=folder, dockerfile=dockerfile, job=job)


def load_manifest(path: Path | None = None) -> Manifest:
    """Read and validate the manifest; any problem is one line naming the file and the entry.

    The default is ci/ingestion_jobs.json, or the file named by PLATFORMCTL_MANIFEST. A manifest elsewhere
    keeps its parameter files in an ``environments`` folder beside it.
    """
    if path is None:
        path = (
            Path(os.environ["PLATFORMCTL_MANIFEST"]).resolve()
            if os.environ.get("PLATFORMCTL_MANIFEST")
            else MANIFEST_PATH
        )
    environments_dir = None if path == MANIFEST_PATH else path.parent / "environments"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the manifest: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON: {exc}") from None
    rel = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    _require(
        isinstance(data, dict) and isinstance(data.get("jobs"), list),
        str(rel),
        "expected an object with a 'jobs' list",
    )
    jobs: list[Job] = []
    earlier: set[str] = set()
    image_names: set[str] = set()
    for index, raw_job in enumerate(data["jobs"]):
        where = f"{rel}: jobs[{index}]"
        _require(isinstance(raw_job, dict), where, "a job must be an object")
        job_name = raw_job.get("name")
        _require(isinstance(job_name, str) and bool(_NAME.match(job_name)), where, f"bad job name {job_name!r}")
        _require(job_name not in {j.name for j in jobs}, where, f"job {job_name} is listed twice")
        stacks = []
        for s_index, raw_stack in enumerate(raw_job.get("stacks") or []):
            stack = _parse_stack(job_name, raw_stack, f"{where}.stacks[{s_index}]", earlier, environments_dir)
            _require(stack.key not in earlier, where, f"stack {stack.key} is listed twice")
            stacks.append(stack)
            earlier.add(stack.key)
        images = []
        for i_index, raw_image in enumerate(raw_job.get("images") or []):
            image = _parse_image(job_name, raw_image, f"{where}.images[{i_index}]")
            _require(image.name not in image_names, where, f"image {image.name} is listed twice")
            image_names.add(image.name)
            images.append(image)
        jobs.append(Job(job_name, str(raw_job.get("description", "")), tuple(stacks), tuple(images)))
    manifest = Manifest(tuple(jobs), path)
    for stack in manifest.stacks:
        for parameter, image_name in stack.images.items():
            _require(
                image_name in image_names,
                f"{rel}: stack {stack.key}",
                f"parameter {parameter} names image {image_name!r}, which no job lists",
            )
    return manifest
