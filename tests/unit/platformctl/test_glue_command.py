"""``platformctl glue``: its table of jobs against the templates, and the local run that moves files between the
emulated lake and Spark."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from platformctl.aws_target import Target
from platformctl.commands import glue
from platformctl.commands.glue import WRITES, _replace_prefix, _s3_location
from platformctl.errors import UserError
from platformctl.manifest import load_manifest
from platformctl.templates import load_template

BUCKET = "acme-data-lake-test"


def test_s3_locations_are_split_and_anything_else_is_refused() -> None:
    assert _s3_location("s3://bucket/artifacts/glue-scripts/job.py") == ("bucket", "artifacts/glue-scripts/job.py")
    for wrong in ("file:///tmp/job.py", "s3:///no-bucket", "bucket/key"):
        with pytest.raises(UserError):
            _s3_location(wrong)


def test_the_output_prefix_ends_up_holding_exactly_what_spark_wrote(tmp_path: Path) -> None:
    written = {
        f"{WRITES}dt=2026-11-25/part-00000-a.snappy.parquet": b"new",
        f"{WRITES}_SUCCESS": b"",
    }
    for key, body in written.items():
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(body)
    (tmp_path / f"{WRITES}dt=2026-11-25/.part-00000-a.snappy.parquet.crc").write_bytes(b"checksum")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=f"{WRITES}dt=2026-11-25/part-00000-old.snappy.parquet", Body=b"old")
        s3.put_object(Bucket=BUCKET, Key="raw/shopify/webhooks/orders/keep.json", Body=b"{}")

        assert _replace_prefix(s3, BUCKET, WRITES, tmp_path) == 2

        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
        assert keys == {*written, "raw/shopify/webhooks/orders/keep.json"}
        body = s3.get_object(Bucket=BUCKET, Key=f"{WRITES}dt=2026-11-25/part-00000-a.snappy.parquet")["Body"].read()
        assert body == b"new"


# ------------------------------------------------------------------------------------- the job table


def _role_resources(template: dict[str, Any], job_logical_id: str) -> tuple[set[str], set[str]]:
    """(keys the job's role may s3:GetObject, keys it may s3:PutObject), as '<prefix>*' texts of its policies."""
    role_id = template["Resources"][job_logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    readable: set[str] = set()
    writable: set[str] = set()
    for policy in template["Resources"][role_id]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            keys = {str(r["Fn::Sub"]).partition("${DataLakeBucketName}/")[2] for r in resources if "Fn::Sub" in r}
            if "s3:GetObject" in actions:
                readable |= keys
            if "s3:PutObject" in actions:
                writable |= keys
    return readable, writable


@pytest.mark.parametrize("job", sorted(glue.JOBS))
def test_the_job_table_agrees_with_the_templates(job: str) -> None:
    """Each job's stack output names a Glue job of that stack, whose role may read everything the local
    run exports and write exactly the prefixes the local run replaces (of every job that shares the role)."""
    spec = glue.JOBS[job]
    stack = load_manifest().select(*spec.stack)[0]
    template = load_template(stack.template_path)
    logical_id = template["Outputs"][spec.output]["Value"]["Ref"]
    assert template["Resources"][logical_id]["Type"] == "AWS::Glue::Job"
    assert template["Resources"][logical_id]["Properties"]["Name"] == {"Fn::Sub": f"${{Brand}}-${{Environment}}-{job}"}
    readable, writable = _role_resources(template, logical_id)
    assert {f"{prefix}*" for prefix in (*spec.reads, *spec.writes)} <= readable
    sharing = [other for other in glue.JOBS.values() if other.stack == spec.stack]
    assert {key for key in writable if key.endswith("/*")} == {f"{p}*" for other in sharing for p in other.writes}


def test_the_command_takes_every_job_and_defaults_to_orders_enriched() -> None:
    parser = argparse.ArgumentParser()
    glue.register(parser.add_subparsers())
    assert parser.parse_args(["glue", "run", "--env", "local"]).job == "orders-enriched"
    for job in glue.JOBS:
        assert parser.parse_args(["glue", "run", "--job", job, "--env", "prod"]).job == job
    with pytest.raises(SystemExit):
        parser.parse_args(["glue", "run", "--job", "orders", "--env", "local"])
    assert glue.WRITES == "processed/shopify/orders_enriched/"


# ----------------------------------------------------------------------------------- the local run

# A stand-in for a job's script: it reports the lake it was given and its arguments, checks that its
# helper (an --extra-py-files module) sits beside it, and rewrites both outputs of recharge-curated.
FAKE_JOB = """
import json, pathlib, sys
sys.path.insert(0, str(pathlib.Path(__file__).parent))
import helper
lake = pathlib.Path(sys.argv[sys.argv.index("--lake_uri") + 1].removeprefix("file://"))
seen = sorted(p.relative_to(lake).as_posix() for p in lake.rglob("*") if p.is_file())
for prefix in ("processed/recharge/subscriptions/", "processed/recharge/subscription_charges/"):
    for old in (lake / prefix).rglob("*"):
        old.unlink() if old.is_file() else None
    (lake / prefix / "dt=2026-11-25").mkdir(parents=True, exist_ok=True)
    (lake / prefix / "dt=2026-11-25" / "part-0.parquet").write_bytes(helper.BODY)
print("starting")
print(json.dumps({"seen": seen, "lookback_days": int(sys.argv[sys.argv.index("--lookback_days") + 1])}))
"""


def test_a_local_run_sees_its_inputs_and_outputs_only_and_replaces_every_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = "artifacts/glue-scripts/"
    inputs = {
        "raw/recharge/subscription/topic=subscription_created/dt=2026-11-25/1.json": b"{}",
        "raw/recharge/charge/topic=charge_paid/dt=2026-11-25/2.json": b"{}",
        "processed/recharge/subscriptions/dt=2026-11-24/part-old.parquet": b"old",
    }
    elsewhere = {
        "raw/recharge/order/topic=order_created/dt=2026-11-25/3.json": b"{}",
        "raw/shopify/webhooks/orders/topic=orders_create/dt=2026-11-25/4.json": b"{}",
    }
    monkeypatch.setattr(glue, "job_name", lambda target, job: f"acme-local-{job}")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=f"{scripts}recharge_curated_job.py", Body=FAKE_JOB.encode())
        s3.put_object(Bucket=BUCKET, Key=f"{scripts}helper.py", Body=b"BODY = b'new'\n")
        for key, body in {**inputs, **elsewhere}.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        boto3.client("glue", region_name="us-east-1").create_job(
            Name="acme-local-recharge-curated",
            Role="arn:aws:iam::123456789012:role/acme-local-curated-tables-job",
            Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/{scripts}recharge_curated_job.py"},
            DefaultArguments={
                "--lake_uri": f"s3://{BUCKET}",
                "--lookback_days": "3",
                "--extra-py-files": f"s3://{BUCKET}/{scripts}helper.py",
            },
        )

        summary = glue.run_locally(Target("local", region="us-east-1"), lookback_days=0, job="recharge-curated")

        assert summary["seen"] == sorted(inputs)
        assert summary["lookback_days"] == 0
        assert summary["job_name"] == "acme-local-recharge-curated"
        written = {
            "processed/recharge/subscriptions/dt=2026-11-25/part-0.parquet",
            "processed/recharge/subscription_charges/dt=2026-11-25/part-0.parquet",
        }
        assert summary["objects_written"] == 2
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
        assert keys - {f"{scripts}recharge_curated_job.py", f"{scripts}helper.py"} == (
            {k for k in inputs if k.startswith("raw/")} | set(elsewhere) | written
        )


def test_a_job_the_table_does_not_know_is_refused() -> None:
    with pytest.raises(UserError, match="unknown Glue job 'orders'"):
        glue.job_spec("orders")
