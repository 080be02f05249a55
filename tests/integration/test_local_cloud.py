"""The local cloud deploys every stack of the repository, with the properties the templates ask for,
through the same deploy code as AWS; redeploying changes nothing; failures are reported with reasons."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from platformctl.cli import main
from platformctl.deploy import Deployer, DeployError
from platformctl.errors import UserError
from platformctl.manifest import REPO_ROOT, load_manifest

pytestmark = pytest.mark.integration


def _account_of(arn: str) -> str:
    return arn.split(":")[4]


Checker = Callable[[Any, str, dict[str, Any]], None]


def _check_bucket(cloud: Any, name: str, _: dict[str, Any]) -> None:
    s3 = cloud.target.client("s3")
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"aws:kms", "AES256"}
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert len(block) == 4
    assert all(block.values())
    assert s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    policy = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
    assert any("aws:SecureTransport" in json.dumps(st) for st in policy["Statement"])


def _check_table(cloud: Any, name: str, properties: dict[str, Any]) -> None:
    dynamodb = cloud.target.client("dynamodb")
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionProtectionEnabled"] is True
    assert table["SSEDescription"]["SSEType"] == "KMS"
    backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    if "TimeToLiveSpecification" in properties:
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl["TimeToLiveStatus"] == "ENABLED"
        assert ttl["AttributeName"] == properties["TimeToLiveSpecification"]["AttributeName"]
    wanted = {index["IndexName"] for index in properties.get("GlobalSecondaryIndexes", [])}
    assert {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])} == wanted


def _check_secret(cloud: Any, arn: str, _: dict[str, Any]) -> None:
    secret = cloud.target.client("secretsmanager").describe_secret(SecretId=arn)
    assert secret["KmsKeyId"]
    value = json.loads(cloud.target.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
    assert all(isinstance(v, str) and v for v in value.values())


def _check_key(cloud: Any, key_id: str, properties: dict[str, Any]) -> None:
    kms = cloud.target.client("kms")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Enabled"] is True
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])


def _check_repository(cloud: Any, name: str, _: dict[str, Any]) -> None:
    ecr = cloud.target.client("ecr")
    repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"]["scanOnPush"] is True
    assert repository["encryptionConfiguration"]["encryptionType"] == "KMS"
    assert json.loads(ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])["rules"]


def _check_database(cloud: Any, name: str, _: dict[str, Any]) -> None:
    assert cloud.target.client("glue").get_database(Name=name)["Database"]["Name"] == name


def _check_crawler(cloud: Any, name: str, properties: dict[str, Any]) -> None:
    crawler = cloud.target.client("glue").get_crawler(Name=name)["Crawler"]
    assert crawler["Targets"]["S3Targets"]
    assert crawler.get("Schedule")


def _check_topic(cloud: Any, arn: str, _: dict[str, Any]) -> None:
    attributes = cloud.target.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes.get("KmsMasterKeyId")
    assert "cloudwatch.amazonaws.com" in attributes.get("Policy", "")


def _check_queue(cloud: Any, url: str, _: dict[str, Any]) -> None:
    attributes = cloud.target.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes.get("KmsMasterKeyId")


def _check_role(cloud: Any, name: str, properties: dict[str, Any]) -> None:
    iam = cloud.target.client("iam")
    iam.get_role(RoleName=name)
    wanted = {p["PolicyName"] for p in properties.get("Policies", [])}
    assert set(iam.list_role_policies(RoleName=name)["PolicyNames"]) >= wanted
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]}
    assert len(attached) >= len(properties.get("ManagedPolicyArns", []))


def _check_function(cloud: Any, name: str, properties: dict[str, Any]) -> None:
    configuration = cloud.target.client("lambda").get_function_configuration(FunctionName=name)
    assert configuration["PackageType"] == "Image"
    assert configuration["TracingConfig"]["Mode"] == "Active"
    for key in properties.get("Environment", {}).get("Variables", {}):
        assert key in configuration["Environment"]["Variables"]


def _check_alarm(cloud: Any, name: str, _: dict[str, Any]) -> None:
    alarms = cloud.target.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarms
    assert alarms[0]["AlarmActions"]


def _check_state_machine(cloud: Any, arn: str, _: dict[str, Any]) -> None:
    cloud.target.client("stepfunctions").describe_state_machine(stateMachineArn=arn)


def _check_log_group(cloud: Any, name: str, properties: dict[str, Any]) -> None:
    groups = cloud.target.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    group = next(g for g in groups if g["logGroupName"] == name)
    assert group.get("retentionInDays") == int(properties["RetentionInDays"])


def _check_api(cloud: Any, api_id: str, _: dict[str, Any]) -> None:
    apigw = cloud.target.client("apigatewayv2")
    apigw.get_api(ApiId=api_id)
    assert apigw.get_routes(ApiId=api_id)["Items"]


def _check_schedule(cloud: Any, name: str, properties: dict[str, Any]) -> None:
    schedule = cloud.target.client("scheduler").get_schedule(
        Name=name, GroupName=properties.get("GroupName", "default")
    )
    assert schedule["Target"]["Arn"]


def _s3_object_exists(cloud: Any, uri: str) -> None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    cloud.target.client("s3").head_object(Bucket=bucket, Key=key)


def _check_glue_job(cloud: Any, name: str, _: dict[str, Any]) -> None:
    glue = cloud.target.client("glue")
    job = glue.get_job(JobName=name)["Job"]
    # The deploy uploaded the scripts where the job reads them (the manifest's uploads ran first).
    _s3_object_exists(cloud, job["Command"]["ScriptLocation"])
    for extra in filter(None, job.get("DefaultArguments", {}).get("--extra-py-files", "").split(",")):
        _s3_object_exists(cloud, extra.strip())
    assert all(isinstance(value, str) for value in job.get("DefaultArguments", {}).values())
    glue.get_security_configuration(Name=job["SecurityConfiguration"])
    cloud.target.client("iam").get_role(RoleName=job["Role"].rsplit("/", 1)[-1])


def _check_glue_table(cloud: Any, physical_id: str, properties: dict[str, Any]) -> None:
    database, _, name = physical_id.partition("|")
    table = cloud.target.client("glue").get_table(DatabaseName=database, Name=name)["Table"]
    declared = properties["TableInput"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == [
        c["Name"] for c in declared["StorageDescriptor"]["Columns"]
    ]
    assert [k["Name"] for k in table.get("PartitionKeys", [])] == [k["Name"] for k in declared.get("PartitionKeys", [])]
    assert set(table.get("Parameters", {})) == set(declared.get("Parameters", {}))
    if "storage.location.template" in table.get("Parameters", {}):
        # Fn::Sub's ${!dt} must reach the catalog as the literal ${dt} Athena's projection fills in.
        assert "${dt}" in table["Parameters"]["storage.location.template"]


def _check_default_bus_rule(cloud: Any, name: str, properties: dict[str, Any]) -> None:
    if "EventBusName" in properties:
        return  # rules of the partner/custom buses are exercised by the Shopify tests
    events = cloud.target.client("events")
    rule = events.describe_rule(Name=name)
    assert rule["State"] == properties.get("State", "ENABLED")
    targets = events.list_targets_by_rule(Rule=name)["Targets"]
    assert len(targets) == len(properties.get("Targets", []))


def _check_oidc(cloud: Any, arn: str, _: dict[str, Any]) -> None:
    provider = cloud.target.client("iam").get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert "sts.amazonaws.com" in provider["ClientIDList"]


CHECKS: dict[str, Checker] = {
    "AWS::S3::Bucket": _check_bucket,
    "AWS::DynamoDB::Table": _check_table,
    "AWS::SecretsManager::Secret": _check_secret,
    "AWS::KMS::Key": _check_key,
    "AWS::ECR::Repository": _check_repository,
    "AWS::Glue::Database": _check_database,
    "AWS::Glue::Crawler": _check_crawler,
    "AWS::SNS::Topic": _check_topic,
    "AWS::SQS::Queue": _check_queue,
    "AWS::IAM::Role": _check_role,
    "AWS::Lambda::Function": _check_function,
    "AWS::CloudWatch::Alarm": _check_alarm,
    "AWS::StepFunctions::StateMachine": _check_state_machine,
    "AWS::Logs::LogGroup": _check_log_group,
    "AWS::ApiGatewayV2::Api": _check_api,
    "AWS::Scheduler::Schedule": _check_schedule,
    "AWS::IAM::OIDCProvider": _check_oidc,
    "AWS::Glue::Job": _check_glue_job,
    "AWS::Glue::Table": _check_glue_table,
    "AWS::Events::Rule": _check_default_bus_rule,
}


def _deployed(cloud: Any) -> list[tuple[Any, dict[str, Any], dict[str, Any]]]:
    """(stack result, template, stack resource) for every resource of every deployed stack."""
    from platformctl.templates import load_template

    cfn = cloud.target.client("cloudformation")
    found = []
    for result in cloud.results:
        template = load_template(result.stack.template_path)
        for resource in cfn.describe_stack_resources(StackName=result.stack_name)["StackResources"]:
            found.append((result, template, resource))
    return found


def test_every_stack_is_deployed(local_cloud: Any) -> None:
    cfn = local_cloud.target.client("cloudformation")
    assert local_cloud.results, "nothing was deployed"
    for result in local_cloud.results:
        status = cfn.describe_stacks(StackName=result.stack_name)["Stacks"][0]["StackStatus"]
        assert status in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}, result.stack_name


def _with_parameters(value: Any, parameters: dict[str, str]) -> Any:
    """The declared properties with every `Ref` to a stack parameter replaced by its deployed value."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in parameters:
            return parameters[value["Ref"]]
        return {key: _with_parameters(item, parameters) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_parameters(item, parameters) for item in value]
    return value


def test_every_declared_resource_exists_with_its_key_properties(local_cloud: Any) -> None:
    from platformctl.localcloud.properties import NATIVE_TYPES
    from platformctl.localcloud.providers import REGISTRY

    cfn = local_cloud.target.client("cloudformation")
    parameters: dict[str, dict[str, str]] = {}
    checked = 0
    for result, template, resource in _deployed(local_cloud):
        if result.stack_name not in parameters:
            stack = cfn.describe_stacks(StackName=result.stack_name)["Stacks"][0]
            given = stack.get("Parameters", [])
            parameters[result.stack_name] = {p["ParameterKey"]: p["ParameterValue"] for p in given}
        logical_id = resource["LogicalResourceId"]
        declared = template["Resources"][logical_id]
        assert resource["ResourceType"] == declared["Type"]
        assert resource["ResourceType"] in REGISTRY or resource["ResourceType"] in NATIVE_TYPES
        assert resource["ResourceStatus"] in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}, f"{result.stack_name}/{logical_id}"
        check = CHECKS.get(resource["ResourceType"])
        if check is not None:
            properties = _with_parameters(declared.get("Properties") or {}, parameters[result.stack_name])
            check(local_cloud, resource["PhysicalResourceId"], properties)
            checked += 1
    assert checked > 20


def test_every_template_resource_was_created(local_cloud: Any) -> None:
    from platformctl.templates import load_template

    cfn = local_cloud.target.client("cloudformation")
    for result in local_cloud.results:
        template = load_template(result.stack.template_path)
        created = {
            r["LogicalResourceId"] for r in cfn.describe_stack_resources(StackName=result.stack_name)["StackResources"]
        }
        conditional = {k for k, v in template["Resources"].items() if "Condition" in v}
        missing = set(template["Resources"]) - created - conditional
        assert missing == set(), f"{result.stack_name}: not created: {sorted(missing)}"


def test_outputs_feed_the_endpoints_file(local_cloud: Any) -> None:
    endpoints = json.loads(Path(local_cloud.endpoints_file).read_text(encoding="utf-8"))
    assert endpoints["aws_endpoint"] == local_cloud.endpoint_url
    assert endpoints["environment"] == "local"
    assert endpoints["bucket"].startswith(f"{endpoints['brand']}-data-lake-")
    assert set(endpoints["tables"]) >= {
        "orders",
        "customers",
        "abandoned_carts",
        "subscriptions",
        "charges",
        "invoices",
    }
    for name in endpoints["tables"].values():
        local_cloud.target.client("dynamodb").describe_table(TableName=name)


def test_second_deploy_changes_nothing(local_cloud: Any) -> None:
    deployer = Deployer(
        local_cloud.target,
        local_cloud.manifest,
        image_tag="local",
        out=_Sink(),
        local_values={"simulators": local_cloud.simulator_urls()},
    )
    results = deployer.deploy([r.stack for r in local_cloud.results])
    assert {r.stack.key: r.outcome for r in results} == {r.stack.key: "no changes" for r in local_cloud.results}


class _Sink:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False


def _scratch_manifest(tmp_path: Path, template: str, parameters: list[dict[str, str]], job: str = "scratch") -> Path:
    folder = tmp_path / "scratch"
    (folder / "environments" / "local" / job).mkdir(parents=True)
    relative_template = Path("tests") / "integration" / "_scratch" / f"{tmp_path.name}.yaml"
    target = REPO_ROOT / relative_template
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(template, encoding="utf-8")
    (folder / "ingestion_jobs.json").write_text(
        json.dumps({"jobs": [{"name": job, "stacks": [{"name": "s", "template": str(relative_template)}]}]}),
        encoding="utf-8",
    )
    (folder / "environments" / "local" / job / "s.json").write_text(json.dumps(parameters), encoding="utf-8")
    return folder / "ingestion_jobs.json"


@pytest.fixture
def scratch(tmp_path: Path) -> Any:
    yield tmp_path
    shutil.rmtree(REPO_ROOT / "tests" / "integration" / "_scratch", ignore_errors=True)


SCRATCH_PARAMETERS = [
    {"ParameterKey": "Brand", "ParameterValue": "acme"},
    {"ParameterKey": "Environment", "ParameterValue": "local"},
]

BAD_TEMPLATE = """
Parameters:
  Brand: {Type: String}
  Environment: {Type: String}
Resources:
  Fine:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${Brand}-scratch-fine"
  Broken:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${Brand}-scratch-broken"
      NoSuchProperty: 1
"""

MISSING_PARAMETER_TEMPLATE = """
Parameters:
  Brand: {Type: String}
  Environment: {Type: String}
  Required: {Type: String}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${Brand}-${Required}"
"""


def test_a_failing_resource_fails_the_deploy_with_its_reason(
    local_cloud: Any, scratch: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest_path = _scratch_manifest(scratch, BAD_TEMPLATE, SCRATCH_PARAMETERS)
    deployer = Deployer(local_cloud.target, load_manifest(manifest_path), image_tag="local", out=_Sink())
    with pytest.raises(DeployError) as caught:
        deployer.deploy(deployer.manifest.stacks)
    message = str(caught.value)
    assert "ROLLBACK_COMPLETE" in message
    assert "Broken (AWS::SQS::Queue)" in message
    assert "NoSuchProperty" in message
    # Through the CLI: the same reason, one error line, a non-zero exit; the leftover stack is retried.
    monkeypatch.setenv("PLATFORMCTL_MANIFEST", str(manifest_path))
    monkeypatch.setenv("PLATFORMCTL_ENDPOINTS_FILE", str(local_cloud.endpoints_file))
    assert main(["deploy", "--env", "local"]) == 1
    captured = capsys.readouterr()
    assert "ROLLBACK_COMPLETE from a failed first create: deleting it" in captured.out
    assert "NoSuchProperty" in captured.err
    assert "Traceback" not in captured.err


def test_a_parameter_nothing_fills_stops_before_any_change(local_cloud: Any, scratch: Path) -> None:
    manifest_path = _scratch_manifest(scratch, MISSING_PARAMETER_TEMPLATE, SCRATCH_PARAMETERS, job="unfilled")
    deployer = Deployer(local_cloud.target, load_manifest(manifest_path), image_tag="local", out=_Sink())
    with pytest.raises(UserError, match="stack unfilled/s: parameter Required has no value"):
        deployer.deploy(deployer.manifest.stacks)
    stacks = local_cloud.target.client("cloudformation").list_stacks()["StackSummaries"]
    assert [s["StackName"] for s in stacks if s["StackName"] == "acme-local-unfilled-s"] == []


def test_status_lists_every_stack(
    local_cloud: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PLATFORMCTL_ENDPOINTS_FILE", str(local_cloud.endpoints_file))
    assert main(["status", "--env", "local"]) == 0
    out = capsys.readouterr().out
    for result in local_cloud.results:
        assert result.stack_name in out
    assert "CREATE_COMPLETE" in out


UPLOAD_BUCKET_TEMPLATE = """
Parameters:
  Brand: {Type: String}
  Environment: {Type: String}
Resources:
  Artifacts:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${Brand}-${Environment}-scratch-artifacts"
Outputs:
  BucketName: {Value: !Ref Artifacts}
"""

UPLOAD_CONSUMER_TEMPLATE = """
Parameters:
  Brand: {Type: String}
  Environment: {Type: String}
  ArtifactsBucket: {Type: String}
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "${Brand}-${Environment}-scratch-consumer"
"""


def test_uploads_happen_before_the_stack_and_only_when_changed(local_cloud: Any, scratch: Path) -> None:
    folder = scratch / "uploads"
    (folder / "environments" / "local" / "uploads").mkdir(parents=True)
    templates_dir = REPO_ROOT / "tests" / "integration" / "_scratch"
    templates_dir.mkdir(parents=True, exist_ok=True)
    (templates_dir / "bucket.yaml").write_text(UPLOAD_BUCKET_TEMPLATE, encoding="utf-8")
    (templates_dir / "consumer.yaml").write_text(UPLOAD_CONSUMER_TEMPLATE, encoding="utf-8")
    manifest = {
        "jobs": [
            {
                "name": "uploads",
                "stacks": [
                    {"name": "bucket", "template": "tests/integration/_scratch/bucket.yaml"},
                    {
                        "name": "consumer",
                        "template": "tests/integration/_scratch/consumer.yaml",
                        "inputs": {"ArtifactsBucket": "uploads/bucket.BucketName"},
                        "uploads": [
                            {
                                "source": "tests/integration/probe/lambda",
                                "bucket": "uploads/bucket.BucketName",
                                "prefix": "artifacts/probe/",
                            }
                        ],
                    },
                ],
            }
        ]
    }
    (folder / "ingestion_jobs.json").write_text(json.dumps(manifest), encoding="utf-8")
    for name in ("bucket", "consumer"):
        (folder / "environments" / "local" / "uploads" / f"{name}.json").write_text(
            json.dumps(SCRATCH_PARAMETERS), encoding="utf-8"
        )
    loaded = load_manifest(folder / "ingestion_jobs.json")
    first = _Sink()
    Deployer(local_cloud.target, loaded, image_tag="local", out=first).deploy(loaded.stacks)
    assert (
        "3 file(s) of tests/integration/probe/lambda/ uploaded to s3://acme-local-scratch-artifacts/artifacts/probe/"
        in first.text
    )
    listed = local_cloud.target.client("s3").list_objects_v2(
        Bucket="acme-local-scratch-artifacts", Prefix="artifacts/probe/"
    )
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        "artifacts/probe/Dockerfile",
        "artifacts/probe/app.py",
        "artifacts/probe/requirements.txt",
    ]
    second = _Sink()
    Deployer(local_cloud.target, loaded, image_tag="local", out=second).deploy(loaded.stacks)
    assert "0 file(s)" in second.text
