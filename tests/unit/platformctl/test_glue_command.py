"""``platformctl glue``: the pieces of the local run that move files between the emulated lake and Spark."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from platformctl.commands.glue import WRITES, _replace_prefix, _s3_location
from platformctl.errors import UserError

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
