"""The deployment ledger: what each deploy put in place, kept so that it can be put back (rollback).

Every ``platformctl deploy`` that executes writes one record per job it touched, in the lake bucket under
``artifacts/deployments/<env>/<job>/<deployment id>.json``: the commit, the image tag, who deployed, and
per stack its name, the template's SHA-256 (the body itself is kept once per content under
``artifacts/deployments/<env>/templates/<sha256>.yaml``), every parameter value as deployed (fed values
resolved, image URIs included) and the outcome. A record is written when the deploy starts
(``in_progress``) and rewritten when it ends (``succeeded`` or ``failed`` with the failing stack), so a
deploy that dies half-way still says what it had done. Deployment ids sort by time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions

from platformctl.errors import UserError

LEDGER_PREFIX = "artifacts/deployments"
IN_PROGRESS, SUCCEEDED, FAILED = "in_progress", "succeeded", "failed"


@dataclass
class StackRecord:
    key: str  # job/stack
    stack_name: str
    template: str  # path in the repository at that commit
    template_sha256: str
    template_key: str  # where the body is kept in the lake
    parameters: dict[str, str]
    outcome: str = "pending"  # created | updated | no changes | pending | failed


@dataclass
class DeploymentRecord:
    deployment_id: str
    environment: str
    job: str
    commit: str
    image_tag: str
    caller: str
    started_at: str
    status: str = IN_PROGRESS
    finished_at: str = ""
    failure: str = ""
    rollback_of: str = ""  # the record this deploy put back, for a rollback
    stacks: list[StackRecord] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeploymentRecord:
        stacks = [StackRecord(**entry) for entry in data.get("stacks", [])]
        return cls(**{**data, "stacks": stacks})

    def stack(self, key: str) -> StackRecord | None:
        return next((entry for entry in self.stacks if entry.key == key), None)


def new_deployment_id(now: datetime, commit: str) -> str:
    """``<UTC time to the millisecond>-<commit>``: sorts by time, and two deploys never share one."""
    moment = now.astimezone(UTC)
    return f"{moment.strftime('%Y%m%dT%H%M%S')}{moment.microsecond // 1000:03d}Z-{(commit or 'unknown')[:12]}"


def template_digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


class Ledger:
    """Reads and writes deployment records in one environment's lake bucket."""

    def __init__(self, s3: Any, bucket: str, environment: str) -> None:
        self.s3, self.bucket, self.environment = s3, bucket, environment

    def record_key(self, job: str, deployment_id: str) -> str:
        return f"{LEDGER_PREFIX}/{self.environment}/{job}/{deployment_id}.json"

    def keep_template(self, body: str) -> tuple[str, str]:
        """Store a template body once per content; returns (sha256, key)."""
        digest = template_digest(body)
        key = f"{LEDGER_PREFIX}/{self.environment}/templates/{digest}.yaml"
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except botocore.exceptions.ClientError:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode("utf-8"), ContentType="text/yaml")
        return digest, key

    def template(self, entry: StackRecord) -> str:
        body = self.s3.get_object(Bucket=self.bucket, Key=entry.template_key)["Body"].read().decode("utf-8")
        if template_digest(body) != entry.template_sha256:
            raise UserError(f"s3://{self.bucket}/{entry.template_key} does not match its recorded SHA-256")
        return str(body)

    def write(self, record: DeploymentRecord) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=self.record_key(record.job, record.deployment_id),
            Body=json.dumps(asdict(record), indent=2, sort_keys=True).encode("utf-8"),
            ContentType="application/json",
        )

    def records(self, job: str) -> list[DeploymentRecord]:
        """Every record of a job, oldest first."""
        prefix = f"{LEDGER_PREFIX}/{self.environment}/{job}/"
        keys = [
            entry["Key"]
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            for entry in page.get("Contents", [])
            if entry["Key"].endswith(".json")
        ]
        found = []
        for key in sorted(keys):
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            found.append(DeploymentRecord.from_json(json.loads(body)))
        return found

    def choose(self, job: str, to: str | None) -> DeploymentRecord:
        """The record a rollback redeploys: ``to`` itself, or the newest succeeded one before what the job runs
        now (after a rollback, before the deployment that rollback restored)."""
        records = self.records(job)
        where = f"s3://{self.bucket}/{LEDGER_PREFIX}/{self.environment}/{job}/"
        if to:
            for record in records:
                if record.deployment_id == to:
                    if record.status != SUCCEEDED:
                        raise UserError(f"deployment {to} of {job} did not succeed ({record.status}); choose another")
                    return record
            known = ", ".join(r.deployment_id for r in records[-5:]) or "none"
            raise UserError(f"no deployment {to} of job {job} in {where} (latest: {known})")
        if not records:
            raise UserError(f"no deployment of job {job} is recorded in {where}: nothing to roll back to")
        # What the job runs now: the newest record, or - when that is a rollback - the one it restored. A
        # second rollback goes further back instead of re-applying the deployment the first one undid.
        current = records[-1]
        while current.rollback_of:
            restored = next((r for r in records if r.deployment_id == current.rollback_of), None)
            if restored is None:
                break
            current = restored
        earlier = [r for r in records if r.deployment_id < current.deployment_id and r.status == SUCCEEDED]
        if not earlier:
            raise UserError(
                f"job {job} has no succeeded deployment before {current.deployment_id}: nothing to roll back to"
            )
        return earlier[-1]


def now_iso(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
