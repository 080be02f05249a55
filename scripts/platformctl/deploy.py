"""Deploy stacks in manifest order through change sets: show what changes, execute, stream events.

The same code deploys to AWS and to the local cloud. For each stack: resolve its parameters (file plus
outputs of earlier stacks), upload what it needs from the repo, create a change set, print its changes,
and (unless dry-run) execute it while streaming stack events; then read its outputs for the stacks after
it. An empty change set is success ("no changes"), so deploying an unchanged repo twice changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import botocore.exceptions

from platformctl.aws_target import Target
from platformctl.boundaries import boundary_problems
from platformctl.errors import UserError
from platformctl.ledger import (
    FAILED,
    SUCCEEDED,
    DeploymentRecord,
    Ledger,
    StackRecord,
    new_deployment_id,
    now_iso,
)
from platformctl.manifest import REPO_ROOT, Manifest, Stack
from platformctl.origins import origin_problems
from platformctl.params import brand_of, check_parameters, resolve_parameters
from platformctl.placeholders import placeholder_problems
from platformctl.registry import ImageChoice, ImageResolver

TEMPLATE_BODY_LIMIT = 51_200  # bytes CloudFormation accepts inline; larger templates go through S3
ARTIFACTS_PREFIX = "artifacts"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
SETTLED_FAILURE = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "DELETE_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
    "IMPORT_ROLLBACK_FAILED",
}
LEDGER_STACK = "shared/data-lake"  # its bucket keeps the deployment ledger under artifacts/deployments/
NO_CHANGES_MARKERS = ("didn't contain changes", "No updates are to be performed")


class DeployError(UserError):
    """A stack did not reach a good state; the message names the stack and the failing resources."""


@dataclass(frozen=True)
class Change:
    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    resource_type: str
    replacement: str  # True | False | Conditional | "" (CloudFormation gives none for Add/Remove)

    def line(self) -> str:
        mark = {"Add": "+", "Modify": "~", "Remove": "-"}.get(self.action, "?")
        replacement = f"  replacement: {self.replacement}" if self.action == "Modify" and self.replacement else ""
        return f"    {mark} {self.action:<7} {self.logical_id:<40} {self.resource_type}{replacement}"


@dataclass
class StackResult:
    stack: Stack
    stack_name: str
    outcome: str  # created | updated | no changes | planned | blocked | skipped
    changes: list[Change] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    deployed: tuple[str, dict[str, str]] | None = None  # the template body and parameter values in place


def _present(entry: StackRecord | None) -> StackRecord:
    if entry is None:
        raise UserError("the deployment record lists no such stack")
    return entry


def _error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _error_message(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", exc))


class Deployer:
    """Deploys selected stacks of one environment to one target."""

    def __init__(
        self,
        target: Target,
        manifest: Manifest,
        *,
        image_tag: str,
        out: TextIO | None = None,
        local_values: dict[str, Any] | None = None,
        poll_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        ci: bool = False,
        keep_running_images: bool = False,
        commit: str = "",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.target = target
        self.environment = target.environment
        self.manifest = manifest
        self.image_tag = image_tag
        self.out = out or sys.stdout
        self.local_values = local_values
        self.poll_seconds = poll_seconds if poll_seconds is not None else (0.1 if target.is_local else 4.0)
        self.clock = clock
        self.ci = ci  # deploying as CI: bootstrap stacks skipped, every stack through the execution role
        self.keep_running_images = keep_running_images
        self.commit = commit or image_tag
        self.now = now
        self.brand = brand_of(self.environment, manifest.stacks)
        self._outputs: dict[str, dict[str, str] | None] = {}
        self._images: dict[tuple[str, str], ImageChoice] = {}
        self.cfn = target.client("cloudformation")

    # ----------------------------------------------------------------------------------------- public

    def preflight(self, stacks: list[Stack]) -> None:
        """Everything that can be checked before touching a stack: every parameter has a source, no shipped
        placeholder reaches a real account, every role the stacks create carries the boundary."""
        problems = self.manifest.missing_files(stacks)
        problems += [problem for stack in stacks for problem in check_parameters(stack, self.environment).problems()]
        problems += placeholder_problems(stacks, self.environment)
        problems += origin_problems(stacks, self.environment)
        if self.ci or not self.target.is_local:  # the stacks go through the execution role
            problems += boundary_problems(stacks)
        if problems:
            raise UserError("\n".join(problems))

    def deploy(self, stacks: list[Stack], *, dry_run: bool = False) -> list[StackResult]:
        stacks = self._without_bootstrap(stacks)
        self.preflight(stacks)
        self._resolve_images(stacks, dry_run=dry_run)
        if dry_run:
            return [self._deploy_one(stack, dry_run=True) for stack in stacks]
        return self._recorded(stacks, lambda stack: self._deploy_one(stack, dry_run=False))

    def redeploy(self, record: DeploymentRecord, ledger: Ledger) -> list[StackResult]:
        """Put back what ``record`` deployed: each stack's recorded template and parameter values."""
        stacks = self._without_bootstrap([s for s in self.manifest.select(record.job) if record.stack(s.key)])
        self._check_recorded_images(record, stacks)

        def put_back(stack: Stack) -> StackResult:
            entry = _present(record.stack(stack.key))
            return self._deploy_one(stack, dry_run=False, recorded=(ledger.template(entry), entry.parameters))

        return self._recorded(stacks, put_back, rollback_of=record)

    def _without_bootstrap(self, stacks: list[Stack]) -> list[Stack]:
        if not self.ci:
            return stacks
        for stack in stacks:
            if stack.bootstrap:
                self._say(
                    f"  {self.stack_name(stack)}: skipped: bootstrap stack, deployed by an administrator "
                    f"(platformctl deploy --env {self.environment} --stack {stack.key}), never by CI"
                )
        return [stack for stack in stacks if not stack.bootstrap]

    def _resolve_images(self, stacks: list[Stack], *, dry_run: bool) -> None:
        """Every function's image, before any change set: the requested tag in ECR, or the running one."""
        needing = [stack for stack in stacks if stack.images]
        if not needing:
            return
        if dry_run and self.outputs_of("shared/ecr") is None:
            return  # those stacks are reported as blocked
        resolver = ImageResolver(
            self.manifest,
            self.target.client("ecr"),
            environment=self.environment,
            tag=self.image_tag,
            repositories=lambda: self.outputs_of("shared/ecr"),
            running_parameters=self._running_parameters,
            keep_running=self.keep_running_images or dry_run,
        )
        try:
            self._images = resolver.resolve(needing)
        except UserError:
            if dry_run:
                return  # a plan shows the change sets with the requested tag
            raise
        for choice in self._images.values():
            if choice.kept:
                self._say(f"  {choice.stack}: {choice.parameter} keeps the running image {choice.uri}")

    def _running_parameters(self, stack: Stack) -> dict[str, str] | None:
        description = self._describe(self.stack_name(stack))
        if description is None:
            return None
        return {p["ParameterKey"]: p.get("ResolvedValue", p["ParameterValue"]) for p in description["Parameters"]}

    def _check_recorded_images(self, record: DeploymentRecord, stacks: list[Stack]) -> None:
        ecr = self.target.client("ecr")
        for stack in stacks:
            entry = _present(record.stack(stack.key))
            for parameter in stack.images:
                uri = entry.parameters.get(parameter, "")
                repository, _, tag = uri.partition("/")[2].rpartition(":")
                try:
                    ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
                except botocore.exceptions.ClientError:
                    raise UserError(
                        f"deployment {record.deployment_id}: image {repository}:{tag} of {stack.key} is no longer in "
                        f"ECR (expired by the repository's lifecycle?): rebuild it (scripts/build_push_lambdas.sh "
                        f"--env {self.environment} --job {stack.job} --tag {tag}) or roll back to a later deployment"
                    ) from None

    def _recorded(
        self,
        stacks: list[Stack],
        deploy_one: Callable[[Stack], StackResult],
        *,
        rollback_of: DeploymentRecord | None = None,
    ) -> list[StackResult]:
        """Deploy ``stacks`` in order, keeping a ledger record per job from start to end."""
        started = self.now()
        deployment_id = new_deployment_id(started, rollback_of.commit if rollback_of else self.commit)
        records: dict[str, DeploymentRecord] = {}
        caller = self._caller()
        for stack in stacks:
            if stack.job not in records:
                records[stack.job] = DeploymentRecord(
                    deployment_id=deployment_id,
                    environment=self.environment,
                    job=stack.job,
                    # a rollback puts back the commit and images of the record it restores
                    commit=rollback_of.commit if rollback_of else self.commit,
                    image_tag=rollback_of.image_tag if rollback_of else self.image_tag,
                    caller=caller,
                    started_at=now_iso(started),
                    rollback_of=rollback_of.deployment_id if rollback_of else "",
                )
        self._write_records(records.values())
        results: list[StackResult] = []
        current: Stack | None = None
        try:
            for current in stacks:
                result = deploy_one(current)
                results.append(result)
                self._add_to_record(records[current.job], current, result)
        except BaseException as exc:  # an AWS error, a lost connection or a cancelled run too: say where it stopped
            if current is not None:
                record = records[current.job]
                what = str(exc).splitlines()[0] if str(exc) else ""
                detail = what if isinstance(exc, UserError) else f"{type(exc).__name__}: {what}".rstrip(": ")
                record.status, record.failure = FAILED, f"{current.key}: {detail}"
                with contextlib.suppress(Exception):  # the original error matters more than the ledger's
                    self._finish(records.values(), failed=True)
            raise
        self._finish(records.values(), failed=False)
        return results

    def _add_to_record(self, record: DeploymentRecord, stack: Stack, result: StackResult) -> None:
        ledger = self._ledger()
        if ledger is None or result.deployed is None:
            record.stacks.append(StackRecord(stack.key, result.stack_name, stack.template, "", "", {}, result.outcome))
            return
        body, parameters = result.deployed
        digest, key = ledger.keep_template(body)
        record.stacks.append(
            StackRecord(stack.key, result.stack_name, stack.template, digest, key, parameters, result.outcome)
        )

    def _finish(self, records: Any, *, failed: bool) -> None:
        finished = now_iso(self.now())
        for record in records:
            if record.status != FAILED:
                record.status = FAILED if failed else SUCCEEDED
                if failed:
                    record.failure = record.failure or "a stack of another job failed first"
            record.finished_at = finished
        self._write_records(records)

    def _write_records(self, records: Any) -> None:
        ledger = self._ledger()
        if ledger is None:
            return  # the lake is not deployed yet (the first deploy of the shared job): nothing to write to
        for record in records:
            ledger.write(record)

    def _ledger(self) -> Ledger | None:
        if not any(stack.key == LEDGER_STACK for stack in self.manifest.stacks):
            return None  # a manifest without the lake (a test's probe stacks) keeps no ledger
        lake = self.outputs_of(LEDGER_STACK) or {}
        bucket = lake.get("DataLakeBucketName")
        return Ledger(self.target.client("s3"), bucket, self.environment) if bucket else None

    def _caller(self) -> str:
        try:
            return str(self.target.client("sts").get_caller_identity()["Arn"])
        except botocore.exceptions.ClientError:
            return "unknown"

    def ledger(self) -> Ledger:
        found = self._ledger()
        if found is None:
            raise UserError(
                f"the shared/data-lake stack is not deployed in {self.environment}: no deployment ledger to read"
            )
        return found

    def stack_name(self, stack: Stack) -> str:
        return stack.stack_name(self.brand, self.environment)

    def outputs_of(self, stack_key: str) -> dict[str, str] | None:
        """A deployed stack's outputs, or None when it is not deployed (cached per run)."""
        if stack_key not in self._outputs:
            job, _, name = stack_key.partition("/")
            stack = self.manifest.select(job, name)[0]
            description = self._describe(self.stack_name(stack))
            if description is None or description["StackStatus"] in {"REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"}:
                self._outputs[stack_key] = None
            else:
                self._outputs[stack_key] = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
        return self._outputs[stack_key]

    def image_uri(self, image_name: str, stack: Stack | None = None) -> str:
        """The URI a stack deploys for an image: the one resolved before the change sets, else repository:tag."""
        if stack is not None and (stack.key, image_name) in self._images:
            return self._images[(stack.key, image_name)].uri
        image = self.manifest.image(image_name)
        repositories = self.outputs_of("shared/ecr")
        if repositories is None or image.repository_output not in repositories:
            raise UserError(
                f"image {image_name}: the shared/ecr stack has no output {image.repository_output}; "
                f"deploy it first (platformctl deploy --env {self.environment} --job shared --stack ecr)"
            )
        return f"{repositories[image.repository_output]}:{self.image_tag}"

    def status_rows(self, stacks: list[Stack]) -> list[tuple[str, str, str, str]]:
        rows = []
        for stack in stacks:
            name = self.stack_name(stack)
            description = self._describe(name)
            if description is None:
                rows.append((name, "NOT DEPLOYED", "-", "-"))
                continue
            updated = description.get("LastUpdatedTime") or description.get("CreationTime")
            when = updated.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if isinstance(updated, datetime) else "-"
            drift = description.get("DriftInformation", {}).get("StackDriftStatus", "NOT_CHECKED")
            rows.append((name, description["StackStatus"], when, drift))
        return rows

    # ---------------------------------------------------------------------------------------- one stack

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _describe(self, stack_name: str) -> dict[str, Any] | None:
        try:
            stacks = self.cfn.describe_stacks(StackName=stack_name)["Stacks"]
        except botocore.exceptions.ClientError as exc:
            if "does not exist" in _error_message(exc) or _error_code(exc) == "ValidationError":
                return None
            raise
        return stacks[0] if stacks else None

    def _fed_outputs(self, stack: Stack) -> dict[str, dict[str, str]] | None:
        """Outputs of the stacks this one reads, or None when one of them is not deployed yet."""
        needed = {f"{ref.job}/{ref.stack}" for ref in stack.inputs.values()}
        if stack.images:
            needed.add("shared/ecr")
        needed |= {f"{upload.bucket.job}/{upload.bucket.stack}" for upload in stack.uploads}
        found: dict[str, dict[str, str]] = {}
        for key in sorted(needed):
            outputs = self.outputs_of(key)
            if outputs is None:
                return None
            found[key] = outputs
        return found

    def _deploy_one(
        self, stack: Stack, *, dry_run: bool, recorded: tuple[str, dict[str, str]] | None = None
    ) -> StackResult:
        """Deploy one stack: from the working tree, or (``recorded``) a ledger's template and parameters."""
        name = self.stack_name(stack)
        started = self.clock()
        fed = self._fed_outputs(stack)
        if fed is None:
            if not dry_run:
                raise UserError(
                    f"stack {stack.key}: an earlier stack it reads is not deployed in {self.environment}; "
                    f"deploy in manifest order (platformctl deploy --env {self.environment})"
                )
            self._say(f"  {name}: not planned: it reads outputs of a stack that is not deployed yet")
            return StackResult(stack, name, "blocked")
        if recorded is None:
            body = stack.template_path.read_text(encoding="utf-8")
            parameters = resolve_parameters(
                stack,
                self.environment,
                fed,
                lambda image: self.image_uri(image, stack),
                self.local_values,
            )
        else:
            body, parameters = recorded
        existing = self._describe(name)
        if existing is not None:
            existing = self._settle_existing(name, existing, dry_run=dry_run)
        if not dry_run and recorded is None:
            self._upload_artifacts(stack, fed)
        change_set_type = "UPDATE" if existing is not None else "CREATE"
        template_args = self._template_args(stack, body)
        change_set_id = self._create_change_set(stack, name, change_set_type, parameters, template_args)
        changes, no_changes = self._wait_change_set(name, change_set_id)
        deployed = (body, parameters)
        if no_changes:
            self._delete_change_set(name, change_set_id, change_set_type)
            self._say(f"  {name}: no changes")
            self._outputs.pop(stack.key, None)  # re-read below
            outputs = self.outputs_of(stack.key) or {}
            return StackResult(stack, name, "no changes", [], outputs, self.clock() - started, deployed)
        self._say(f"  {name}: {len(changes)} change{'s' if len(changes) != 1 else ''} ({change_set_type.lower()})")
        for change in changes:
            self._say(change.line())
        if dry_run:
            self._delete_change_set(name, change_set_id, change_set_type)
            return StackResult(stack, name, "planned", changes, {}, self.clock() - started)
        self._execute(name, change_set_id, started)
        self._outputs.pop(stack.key, None)
        outputs = self.outputs_of(stack.key) or {}
        outcome = "created" if change_set_type == "CREATE" else "updated"
        return StackResult(stack, name, outcome, changes, outputs, self.clock() - started, deployed)

    def _settle_existing(self, name: str, description: dict[str, Any], *, dry_run: bool) -> dict[str, Any] | None:
        status = description["StackStatus"]
        if status == "REVIEW_IN_PROGRESS":
            return None  # a change set was created earlier but never executed: still a create
        if status == "ROLLBACK_COMPLETE":
            if dry_run:
                self._say(f"  {name}: in ROLLBACK_COMPLETE from a failed first create; a deploy deletes and retries it")
                return None
            self._say(f"  {name}: in ROLLBACK_COMPLETE from a failed first create: deleting it to create it again")
            self.cfn.delete_stack(StackName=description["StackId"])
            self._wait_deleted(description["StackId"])
            return None
        if status.endswith("_IN_PROGRESS"):
            raise UserError(f"stack {name} is busy ({status}); wait for it to finish, then deploy again")
        if status in {"UPDATE_ROLLBACK_FAILED", "ROLLBACK_FAILED", "DELETE_FAILED"}:
            raise UserError(
                f"stack {name} is in {status}: fix the cause shown in its events, then continue or delete it "
                "(aws cloudformation continue-update-rollback / delete-stack)"
            )
        return description

    def _wait_deleted(self, stack_id: str) -> None:
        while True:
            description = self._describe(stack_id)
            if description is None or description["StackStatus"] == "DELETE_COMPLETE":
                return
            if description["StackStatus"] == "DELETE_FAILED":
                raise DeployError(f"stack {stack_id} could not be deleted: {description.get('StackStatusReason', '')}")
            time.sleep(self.poll_seconds)

    def _template_args(self, stack: Stack, body: str) -> dict[str, str]:
        if len(body.encode("utf-8")) <= TEMPLATE_BODY_LIMIT:
            return {"TemplateBody": body}
        lake = self.outputs_of("shared/data-lake") or {}
        bucket = lake.get("DataLakeBucketName")
        if not bucket:
            raise UserError(f"{stack.template} is over {TEMPLATE_BODY_LIMIT} bytes and the lake bucket is not deployed")
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
        key = f"{ARTIFACTS_PREFIX}/cloudformation/{stack.job}/{stack.name}-{digest}.yaml"
        self.target.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"))
        url = self.target.client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600
        )
        return {"TemplateURL": str(url)}

    def _upload_artifacts(self, stack: Stack, fed: dict[str, dict[str, str]]) -> None:
        for upload in stack.uploads:
            bucket = fed[f"{upload.bucket.job}/{upload.bucket.stack}"][upload.bucket.output]
            sent = sync_folder(self.target.client("s3"), REPO_ROOT / upload.source, bucket, upload.prefix)
            self._say(
                f"  {self.stack_name(stack)}: {sent} file(s) of {upload.source}/ uploaded to s3://{bucket}/{upload.prefix}"
            )

    def _create_change_set(
        self,
        stack: Stack,
        name: str,
        change_set_type: str,
        parameters: dict[str, str],
        template_args: dict[str, str],
    ) -> str:
        change_set_name = "platformctl-" + datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        role = self._execution_role(stack)
        role_args = {"RoleARN": role} if role else {}
        tags = {"Brand": self.brand, "Environment": self.environment, "Job": stack.job, "ManagedBy": "platformctl"}
        try:
            response = self.cfn.create_change_set(
                StackName=name,
                ChangeSetName=change_set_name,
                ChangeSetType=change_set_type,
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())],
                Capabilities=CAPABILITIES,
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                Description=f"platformctl deploy of {stack.key} ({stack.template})",
                **role_args,
                **template_args,
            )
        except botocore.exceptions.ClientError as exc:
            if any(marker in _error_message(exc) for marker in NO_CHANGES_MARKERS):
                return ""  # some implementations refuse an empty change set instead of failing it
            raise DeployError(f"stack {name}: CloudFormation rejected the change set: {_error_message(exc)}") from None
        return str(response["Id"])

    def _execution_role(self, stack: Stack) -> str | None:
        """The CloudFormation service role stacks deploy through, once the bootstrap stack exists.

        The GitHub deploy role may change stacks only through this role; an administrator deploying by hand
        uses it too, so both paths create the same resources. Bootstrap stacks (the CI roles themselves)
        are deployed by an administrator without it; the local cloud uses it only for a CI deploy (the
        pipeline tried locally). ``CFN_EXECUTION_ROLE_ARN`` overrides.
        """
        if stack.bootstrap or (self.target.is_local and not self.ci):
            return None
        if os.environ.get("CFN_EXECUTION_ROLE_ARN"):
            return os.environ["CFN_EXECUTION_ROLE_ARN"]
        bootstrap = [s.key for s in self.manifest.stacks if s.bootstrap]
        role = next(
            (
                outputs["CloudFormationExecutionRoleArn"]
                for key in bootstrap
                if (outputs := self.outputs_of(key)) and outputs.get("CloudFormationExecutionRoleArn")
            ),
            None,
        )
        if role is None and self.ci:
            raise UserError(
                f"stack {stack.key}: no CloudFormation execution role in {self.environment}: an administrator "
                f"deploys the bootstrap stack first (platformctl deploy --env {self.environment} "
                f"--stack {bootstrap[0] if bootstrap else 'shared/cfn-execution'})"
            )
        return role

    def _wait_change_set(self, name: str, change_set_id: str) -> tuple[list[Change], bool]:
        if not change_set_id:
            return [], True
        while True:
            description = self.cfn.describe_change_set(ChangeSetName=change_set_id, StackName=name)
            status = description["Status"]
            if status == "CREATE_COMPLETE":
                break
            if status == "FAILED":
                reason = description.get("StatusReason", "")
                if any(marker in reason for marker in NO_CHANGES_MARKERS):
                    return [], True
                raise DeployError(f"stack {name}: change set failed: {reason}")
            time.sleep(self.poll_seconds)
        changes = list(self._iter_changes(name, change_set_id, description))
        return changes, False

    def _iter_changes(self, name: str, change_set_id: str, first: dict[str, Any]) -> Iterator[Change]:
        page = first
        while True:
            for entry in page.get("Changes", []):
                detail = entry.get("ResourceChange", {})
                yield Change(
                    action=str(detail.get("Action", "?")),
                    logical_id=str(detail.get("LogicalResourceId", "?")),
                    resource_type=str(detail.get("ResourceType", "?")),
                    replacement=str(detail.get("Replacement", "")),
                )
            token = page.get("NextToken")
            if not token:
                return
            page = self.cfn.describe_change_set(ChangeSetName=change_set_id, StackName=name, NextToken=token)

    def _delete_change_set(self, name: str, change_set_id: str, change_set_type: str) -> None:
        if not change_set_id:
            return
        try:
            self.cfn.delete_change_set(ChangeSetName=change_set_id, StackName=name)
            if change_set_type == "CREATE":
                # A never-executed create leaves an empty stack in REVIEW_IN_PROGRESS; remove it too.
                self.cfn.delete_stack(StackName=name)
        except botocore.exceptions.ClientError:
            pass  # nothing was deployed; a leftover change set is harmless

    def _execute(self, name: str, change_set_id: str, started: float) -> None:
        seen: set[str] = set()
        since = datetime.now(UTC).replace(microsecond=0)
        self._events(name, seen, since)  # marks the events from before this execution as seen
        try:
            self.cfn.execute_change_set(ChangeSetName=change_set_id, StackName=name)
        except botocore.exceptions.ClientError as exc:
            failures = self._failures(name, seen, since)
            detail = "; ".join(failures) if failures else _error_message(exc)
            raise DeployError(f"stack {name} failed: {detail}") from None
        progress = _Progress(self.out, name, self.clock, started)
        while True:
            for event in self._events(name, seen, since):
                progress.event(event)
            description = self._describe(name)
            status = description["StackStatus"] if description else "DELETE_COMPLETE"
            if status in SUCCESS:
                progress.done(status)
                return
            if status in SETTLED_FAILURE or status == "DELETE_COMPLETE":
                for event in self._events(name, seen, since):
                    progress.event(event)
                progress.done(status)
                failures = self._failures(name, set(), since)
                detail = (
                    "\n".join(f"    {f}" for f in failures)
                    or f"    {description and description.get('StackStatusReason')}"
                )
                raise DeployError(f"stack {name} ended in {status}; failing resources:\n{detail}")
            progress.tick(status)
            time.sleep(self.poll_seconds)

    def _events(self, name: str, seen: set[str], _since: datetime) -> list[dict[str, Any]]:
        """New stack events, oldest first."""
        fresh: list[dict[str, Any]] = []
        try:
            pages = self.cfn.get_paginator("describe_stack_events").paginate(StackName=name)
            for page in pages:
                batch = page.get("StackEvents", [])
                stop = False
                for event in batch:
                    if event["EventId"] in seen:
                        stop = True
                        continue
                    seen.add(event["EventId"])
                    fresh.append(event)
                if stop:
                    break
        except botocore.exceptions.ClientError:
            return []
        return list(reversed(fresh))

    def _failures(self, name: str, seen: set[str], since: datetime) -> list[str]:
        failures = []
        try:
            for page in self.cfn.get_paginator("describe_stack_events").paginate(StackName=name):
                for event in page.get("StackEvents", []):
                    status = event.get("ResourceStatus", "")
                    when = event.get("Timestamp")
                    if isinstance(when, datetime) and when.tzinfo and when < since:
                        continue
                    if status.endswith("_FAILED") and event.get("LogicalResourceId") != name:
                        failures.append(
                            f"{event.get('LogicalResourceId')} ({event.get('ResourceType')}): "
                            f"{status}: {event.get('ResourceStatusReason', 'no reason given')}"
                        )
        except botocore.exceptions.ClientError:
            return failures
        return list(reversed(failures))


class _Progress:
    """One live line per stack on a terminal; one line per event otherwise."""

    def __init__(self, out: TextIO, name: str, clock: Callable[[], float], started: float) -> None:
        self.out, self.name, self.clock, self.started = out, name, clock, started
        self.tty = out.isatty()
        self.done_count = 0

    def _elapsed(self) -> str:
        seconds = int(self.clock() - self.started)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def event(self, event: dict[str, Any]) -> None:
        status = event.get("ResourceStatus", "")
        if status.endswith("_COMPLETE"):
            self.done_count += 1
        if self.tty and not status.endswith("_FAILED"):
            self.tick(status, event.get("LogicalResourceId", ""))
            return
        reason = event.get("ResourceStatusReason")
        suffix = f" - {reason}" if reason and status.endswith("_FAILED") else ""
        if self.tty:
            self.out.write("\r\033[K")
        self.out.write(f"    [{self._elapsed()}] {event.get('LogicalResourceId', ''):<40} {status}{suffix}\n")
        self.out.flush()

    def tick(self, status: str, resource: str = "") -> None:
        if self.tty:
            line = f"  {self.name}: {status} {resource} ({self.done_count} done, {self._elapsed()})"
            self.out.write("\r\033[K" + line[:160])
            self.out.flush()

    def done(self, status: str) -> None:
        if self.tty:
            self.out.write("\r\033[K")
        self.out.write(f"  {self.name}: {status} in {self._elapsed()}\n")
        self.out.flush()


def sync_folder(s3: Any, folder: Path, bucket: str, prefix: str) -> int:
    """Upload each file under ``folder`` whose content differs from what is stored; returns the count sent."""
    if not folder.is_dir():
        raise UserError(f"upload source {folder.relative_to(REPO_ROOT)} is not a folder")
    sent = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()
        key = prefix + path.relative_to(folder).as_posix()
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
            if head.get("Metadata", {}).get("sha256") == digest:
                continue
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) not in {"404", "NoSuchKey", "NotFound"}:
                raise
        s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"sha256": digest})
        sent += 1
    return sent
