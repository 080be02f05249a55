"""Which image each function of a deploy runs: checked in ECR for every stack before any change set.

A deploy names one image tag (the commit). For each ``*ImageUri`` parameter the tag is used when the
image's repository holds it. When it does not, the deploy stops before touching any stack, in one line
naming the missing ``repository:tag`` and the command that builds it - unless the operator asked to keep
the images the stacks already run (``--keep-running-images``: the pipeline does so when a push changed
no file any image copies, so nothing was built for its commit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import botocore.exceptions

from platformctl.errors import UserError
from platformctl.manifest import Manifest, Stack

MISSING_CODES = {"ImageNotFoundException", "RepositoryNotFoundException"}


@dataclass(frozen=True)
class ImageChoice:
    stack: str  # stack key
    parameter: str  # the *ImageUri parameter
    image: str  # manifest image name
    uri: str
    kept: bool  # True: the image the stack already ran, not the requested tag


def repository_name(repository_uri: str) -> str:
    """``<account>.dkr.ecr.<region>.amazonaws.com/acme/shopify-order-processor`` -> ``acme/shopify-order-processor``."""
    return repository_uri.split("/", 1)[1] if "/" in repository_uri else repository_uri


class ImageResolver:
    """Resolves the image URI of every function of the chosen stacks, or says why it cannot."""

    def __init__(
        self,
        manifest: Manifest,
        ecr: object,
        *,
        environment: str,
        tag: str,
        repositories: Callable[[], Mapping[str, str] | None],
        running_parameters: Callable[[Stack], Mapping[str, str] | None],
        keep_running: bool = False,
    ) -> None:
        self.manifest = manifest
        self.ecr = ecr
        self.environment = environment
        self.tag = tag
        self.repositories = repositories  # the shared/ecr stack's outputs
        self.running_parameters = running_parameters  # a deployed stack's current parameter values
        self.keep_running = keep_running
        self._present: dict[str, bool] = {}

    def resolve(self, stacks: list[Stack]) -> dict[tuple[str, str], ImageChoice]:
        """(stack key, image name) -> the choice, for every image parameter of ``stacks``."""
        wanted = [(stack, parameter, image) for stack in stacks for parameter, image in stack.images.items()]
        if not wanted:
            return {}
        outputs = self.repositories()
        if outputs is None:
            raise UserError(
                f"the shared/ecr stack is not deployed in {self.environment}: deploy it first "
                f"(platformctl deploy --env {self.environment} --job shared --stack ecr)"
            )
        choices: dict[tuple[str, str], ImageChoice] = {}
        missing: list[tuple[Stack, str]] = []
        for stack, parameter, image_name in wanted:
            image = self.manifest.image(image_name)
            repository_uri = outputs.get(image.repository_output)
            if not repository_uri:
                raise UserError(
                    f"image {image_name}: the shared/ecr stack has no output {image.repository_output}; "
                    f"deploy it first (platformctl deploy --env {self.environment} --job shared --stack ecr)"
                )
            if self._has_tag(repository_name(repository_uri)):
                choices[(stack.key, image_name)] = ImageChoice(
                    stack.key, parameter, image_name, f"{repository_uri}:{self.tag}", kept=False
                )
            elif self.keep_running:
                choices[(stack.key, image_name)] = self._running(stack, parameter, image_name, repository_uri)
            else:
                missing.append((stack, repository_name(repository_uri)))
        if missing:
            raise UserError(self._missing_line(missing))
        return choices

    def _has_tag(self, repository: str) -> bool:
        if repository not in self._present:
            try:
                self.ecr.describe_images(  # type: ignore[attr-defined]
                    repositoryName=repository, imageIds=[{"imageTag": self.tag}]
                )
                self._present[repository] = True
            except botocore.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in MISSING_CODES:
                    raise UserError(f"cannot look up image {repository}:{self.tag} in ECR: {exc}") from None
                self._present[repository] = False
        return self._present[repository]

    def _running(self, stack: Stack, parameter: str, image_name: str, repository_uri: str) -> ImageChoice:
        current = (self.running_parameters(stack) or {}).get(parameter, "")
        if not current:
            raise UserError(
                f"image {repository_name(repository_uri)}:{self.tag} is not in ECR and stack {stack.key} runs no "
                f"image yet to keep: build it (scripts/build_push_lambdas.sh --env {self.environment} "
                f"--job {stack.job} --tag {self.tag})"
            )
        return ImageChoice(stack.key, parameter, image_name, current, kept=True)

    def _missing_line(self, missing: list[tuple[Stack, str]]) -> str:
        first_repository = missing[0][1]
        jobs = sorted({stack.job for stack, _ in missing})
        job_args = f"--job {jobs[0]} " if len(jobs) == 1 else ""
        others = f" (and {len(missing) - 1} more image(s) of {', '.join(jobs)})" if len(missing) > 1 else ""
        return (
            f"image {first_repository}:{self.tag} is not in ECR{others}: build it with "
            f"scripts/build_push_lambdas.sh --env {self.environment} {job_args}--tag {self.tag}, "
            "or deploy with --keep-running-images to keep the images the stacks run now"
        )
