"""What IAM authorizes per operation, and how requests on the wire are read as operations.

Action names and resource ARNs follow the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from platformctl.iam.actions import Call, Check, UnknownOperationError, checks_for, known_actions
from platformctl.localcloud.api_calls import parse, signature

ACCOUNT = "123456789012"


class _Lookup:
    account = ACCOUNT

    def secret_arn(self, region: str, secret_id: str) -> str:
        return f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{secret_id}-AbCdEf"

    def key_arn(self, region: str, key_id: str) -> str:
        return f"arn:aws:kms:{region}:{ACCOUNT}:key/{key_id.removeprefix('alias/')}"

    def ciphertext_key_arn(self, region: str, blob: str) -> str:
        return self.key_arn(region, "from-blob")

    def stack_arn(self, region: str, stack: str) -> str:
        return f"arn:aws:cloudformation:{region}:{ACCOUNT}:stack/{stack}/id"

    def function_arn(self, region: str, name: str) -> str:
        return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"


def checks(service: str, operation: str, **params: Any) -> list[Check]:
    return checks_for(Call(service, operation, params, "us-east-1", _Lookup()))


def test_s3_objects_buckets_and_listing_prefix() -> None:
    """ListObjectsV2 is s3:ListBucket on the bucket with s3:prefix; HeadObject is s3:GetObject."""
    assert checks("s3", "ListObjectsV2", Bucket="lake", Prefix="raw/") == [
        Check("s3:ListBucket", "arn:aws:s3:::lake", {"s3:prefix": "raw/"})
    ]
    assert checks("s3", "HeadObject", Bucket="lake", Key="a/b") == [Check("s3:GetObject", "arn:aws:s3:::lake/a/b")]
    copy = checks("s3", "CopyObject", Bucket="lake", Key="dst", CopySource="/lake/src")
    assert [c.action for c in copy] == ["s3:PutObject", "s3:GetObject"]
    assert copy[1].resource == "arn:aws:s3:::lake/src"
    assert [c.resource for c in checks("s3", "DeleteObjects", Bucket="b", Keys=["x", "y"])] == [
        "arn:aws:s3:::b/x",
        "arn:aws:s3:::b/y",
    ]


def test_s3_operations_on_one_version_are_their_own_actions() -> None:
    """GetObject/HeadObject/DeleteObject with a VersionId, a copy from a version, and DeleteObjects naming
    versions need the *Version actions; ListObjectVersions is s3:ListBucketVersions with s3:prefix."""
    key = "arn:aws:s3:::lake/raw/a.json"
    assert checks("s3", "GetObject", Bucket="lake", Key="raw/a.json", VersionId="v1") == [
        Check("s3:GetObjectVersion", key)
    ]
    assert checks("s3", "HeadObject", Bucket="lake", Key="raw/a.json", VersionId="v1")[0].action == (
        "s3:GetObjectVersion"
    )
    assert checks("s3", "DeleteObject", Bucket="lake", Key="raw/a.json", VersionId="v1") == [
        Check("s3:DeleteObjectVersion", key)
    ]
    assert checks("s3", "DeleteObject", Bucket="lake", Key="raw/a.json") == [Check("s3:DeleteObject", key)]
    copy = checks("s3", "CopyObject", Bucket="lake", Key="dst", CopySource="/lake/src?versionId=1")
    assert [c.action for c in copy] == ["s3:PutObject", "s3:GetObjectVersion"]
    assert copy[1].resource == "arn:aws:s3:::lake/src"
    objects = [{"Key": "x", "VersionId": "1"}, {"Key": "y"}]
    assert checks("s3", "DeleteObjects", Bucket="b", Objects=objects, Keys=["x", "y"]) == [
        Check("s3:DeleteObjectVersion", "arn:aws:s3:::b/x"),
        Check("s3:DeleteObject", "arn:aws:s3:::b/y"),
    ]
    assert checks("s3", "ListObjectVersions", Bucket="lake", Prefix="raw/a.json") == [
        Check("s3:ListBucketVersions", "arn:aws:s3:::lake", {"s3:prefix": "raw/a.json"})
    ]


def test_dynamodb_batches_need_the_action_on_each_table() -> None:
    batch = checks("dynamodb", "BatchWriteItem", RequestItems={"a": [], "b": []})
    assert [c.resource for c in batch] == [
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/a",
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/b",
    ]
    transact = checks("dynamodb", "TransactWriteItems", TransactItems=[{"Put": {"TableName": "t"}}])
    assert transact == [Check("dynamodb:PutItem", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t")]
    query = checks("dynamodb", "Query", TableName="t", IndexName="by-date")
    assert query[0].resource.endswith("table/t/index/by-date")


def test_services_with_their_own_names() -> None:
    assert checks("sqs", "SendMessageBatch", QueueUrl=f"http://127.0.0.1:1/{ACCOUNT}/q")[0] == Check(
        "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"
    )
    assert checks("lambda", "Invoke", FunctionName="f")[0].action == "lambda:InvokeFunction"
    assert checks("secretsmanager", "GetSecretValue", SecretId="s")[0].resource.endswith(":secret:s-AbCdEf")
    metric = checks("cloudwatch", "PutMetricData", Namespace="Acme/DQ")
    assert metric == [Check("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Acme/DQ"})]
    assert checks("sts", "GetCallerIdentity") == []


def test_kms_encryption_context_and_key_from_ciphertext() -> None:
    """kms:EncryptionContext:<key> condition keys (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html)."""
    (decrypt,) = checks("kms", "Decrypt", CiphertextBlob="AAAA", EncryptionContext={"aws:logs:arn": "arn:x"})
    assert decrypt.resource.endswith("key/from-blob")
    assert decrypt.context["kms:EncryptionContext:aws:logs:arn"] == "arn:x"
    assert decrypt.context["kms:CallerAccount"] == ACCOUNT


def test_roles_handed_to_services_need_pass_role() -> None:
    """iam:PassRole with iam:PassedToService (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html)."""
    role = f"arn:aws:iam::{ACCOUNT}:role/cfn-exec"
    stack = checks("cloudformation", "CreateChangeSet", StackName="acme-x", ChangeSetName="c", RoleARN=role)
    assert stack[0].context["cloudformation:RoleArn"] == role
    assert stack[1] == Check("iam:PassRole", role, {"iam:PassedToService": "cloudformation.amazonaws.com"})
    assert checks("cloudformation", "DescribeStacks", StackName="acme-x")[1:] == []


def test_unknown_operations_fail_loudly() -> None:
    with pytest.raises(UnknownOperationError, match=r"sqs\.AddPermission"):
        checks("sqs", "AddPermission", QueueUrl="x")
    with pytest.raises(UnknownOperationError):
        checks("redshift", "CreateCluster")


def test_known_actions_cover_the_table() -> None:
    known = known_actions()
    assert {"s3:GetObject", "dynamodb:PutItem", "sns:Publish", "cloudwatch:PutMetricData"} <= known


def test_requests_on_the_wire() -> None:
    """The operation is read from each protocol: JSON target, query Action, REST path, RPC v2 CBOR path."""
    auth = {
        "authorization": "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20240101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=x",
        "x-amz-security-token": "token",
    }
    signed = signature(auth, {})
    assert signed is not None
    assert (signed.access_key, signed.signing_name, signed.session_token) == ("ASIAEXAMPLE", "dynamodb", "token")
    assert signature({}, {}) is None
    json_call = parse(
        "dynamodb",
        "us-east-1",
        "POST",
        "/",
        {},
        {"x-amz-target": "DynamoDB_20120810.PutItem"},
        json.dumps({"TableName": "t"}).encode(),
    )
    assert json_call is not None
    assert (json_call.operation, json_call.params["TableName"]) == ("PutItem", "t")
    query_call = parse("sns", "us-east-1", "POST", "/", {}, {}, b"Action=Publish&TopicArn=arn%3Ax&Message=m")
    assert query_call is not None
    assert (query_call.operation, query_call.params["TopicArn"]) == ("Publish", "arn:x")
    put = parse("s3", "us-east-1", "PUT", "/lake/raw/a%20b.json", {}, {}, b"")
    copy = parse("s3", "us-east-1", "PUT", "/lake/dst", {}, {"x-amz-copy-source": "lake/src"}, b"")
    assert put is not None
    assert copy is not None
    assert (put.operation, put.params["Key"], copy.operation) == ("PutObject", "raw/a b.json", "CopyObject")
    listing = parse("s3", "us-east-1", "GET", "/lake", {"list-type": ["2"], "prefix": ["raw/"]}, {}, b"")
    assert listing is not None
    assert (listing.operation, listing.params["Prefix"]) == ("ListObjectsV2", "raw/")
    invoke = parse("lambda", "us-east-1", "POST", "/2015-03-31/functions/f/invocations", {}, {}, b"{}")
    assert invoke is not None
    assert (invoke.operation, invoke.params["FunctionName"]) == ("Invoke", "f")
    cbor = parse(
        "monitoring", "us-east-1", "POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData", {}, {}, b""
    )
    assert cbor is not None
    assert (cbor.service, cbor.operation) == ("cloudwatch", "PutMetricData")


def test_versioned_s3_requests_on_the_wire() -> None:
    """The version of a GET/DELETE (query ``versionId``), ListObjectVersions (``?versions``) and the objects
    of a DeleteObjects body, each with its version."""
    get = parse("s3", "us-east-1", "GET", "/lake/raw/a.json", {"versionId": ["v1"]}, {}, b"")
    assert get is not None
    assert (get.operation, get.params["Key"], get.params["VersionId"]) == ("GetObject", "raw/a.json", "v1")
    delete = parse("s3", "us-east-1", "DELETE", "/lake/raw/a.json", {"versionId": ["v1"]}, {}, b"")
    assert delete is not None
    assert (delete.operation, delete.params["VersionId"]) == ("DeleteObject", "v1")
    versions = parse("s3", "us-east-1", "GET", "/lake", {"versions": [""], "prefix": ["raw/a.json"]}, {}, b"")
    assert versions is not None
    assert (versions.operation, versions.params["Prefix"]) == ("ListObjectVersions", "raw/a.json")
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Object><Key>raw/a&amp;b.json</Key><VersionId>v1</VersionId></Object>"
        b"<Object><Key>raw/c.json</Key></Object><Quiet>true</Quiet></Delete>"
    )
    batch = parse("s3", "us-east-1", "POST", "/lake", {"delete": [""]}, {}, body)
    assert batch is not None
    assert batch.operation == "DeleteObjects"
    assert batch.params["Objects"] == [{"Key": "raw/a&b.json", "VersionId": "v1"}, {"Key": "raw/c.json"}]
    assert batch.params["Keys"] == ["raw/a&b.json", "raw/c.json"]


@pytest.mark.parametrize(
    ("method", "query", "operation"),
    [
        ("DELETE", {}, "DeleteObject"),
        ("DELETE", {"versionId": ["v1"]}, "DeleteObject"),
        ("DELETE", {"uploadId": ["u"]}, "AbortMultipartUpload"),
        ("GET", {}, "GetObject"),
        ("GET", {"uploadId": ["u"]}, "ListParts"),
        ("PUT", {}, "PutObject"),
        ("PUT", {"partNumber": ["1"], "uploadId": ["u"]}, "UploadPart"),
        ("POST", {"uploads": [""]}, "CreateMultipartUpload"),
        ("POST", {"uploadId": ["u"]}, "CompleteMultipartUpload"),
    ],
)
def test_s3_operations_sharing_a_path_are_told_apart_by_their_required_query(
    method: str, query: dict[str, list[str]], operation: str
) -> None:
    call = parse("s3", "us-east-1", method, "/lake/raw/a.json", query, {}, b"")
    assert call is not None
    assert call.operation == operation
