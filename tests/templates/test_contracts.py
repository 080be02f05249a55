"""Contract tests that hold the repository together: templates, manifest, parameter files, images,
alarms, runbooks and the local cloud's support table all agree."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from platformctl.manifest import REPO_ROOT, Image, Manifest
from platformctl.params import brand_of, check_parameters
from tests.templates.cfn import Resource, iter_resources, refs, template_paths

ACCOUNT_ID = re.compile(r"(?<![\d.])\d{12}(?![\d.])")
REGION = re.compile(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov)-(?:north|south|east|west|central)(?:east|west)?-\d\b")
RETAIN = {"Retain", "RetainExceptOnCreate"}
STATEFUL = {
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::SecretsManager::Secret",
    "AWS::ECR::Repository",
}
# Actions that admit no resource-level permission, so Resource "*" is the only form IAM accepts.
NO_RESOURCE_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "cloudwatch:DescribeAlarms",
    # Metric reads (the alerts Slack channel's role): no resource, or only an observability-link
    # "dataset", which no brand name scopes.
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:GetMetricWidgetImage",
    "cloudwatch:ListMetrics",
    "chatbot:CreateSlackChannelConfiguration",
    "chatbot:DescribeSlackChannelConfigurations",
    "chatbot:ListTagsForResource",
    "cloudformation:ValidateTemplate",
    "cloudformation:ListStacks",
    "cloudformation:DescribeStacks",
    "cloudformation:CreateUploadBucket",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "kms:CreateKey",
    "kms:ListAliases",
    "kms:ListKeys",
    "iam:ListRoles",
    "iam:ListPolicies",
    "iam:GetAccountSummary",
    "s3:ListAllMyBuckets",
    "states:ListStateMachines",
    "events:ListRules",
    "events:ListEventBuses",
    "lambda:ListFunctions",
    "lambda:GetAccountSettings",
    "lambda:CreateEventSourceMapping",
    "lambda:ListEventSourceMappings",
    "lambda:GetEventSourceMapping",
    "lambda:UpdateEventSourceMapping",
    "lambda:DeleteEventSourceMapping",
    "secretsmanager:GetRandomPassword",
    "secretsmanager:ListSecrets",
    "glue:GetSecurityConfigurations",
    "glue:CreateSecurityConfiguration",
    "glue:DeleteSecurityConfiguration",
    "glue:GetSecurityConfiguration",
    "glue:PutDataCatalogEncryptionSettings",
    "glue:GetDataCatalogEncryptionSettings",
    "apigateway:GET",
    "scheduler:ListSchedules",
    "scheduler:ListScheduleGroups",
    "sqs:ListQueues",
    "sns:ListTopics",
    "ecr:DescribeRepositories",
    "dynamodb:ListTables",
    "dynamodb:DescribeLimits",
    "ec2:DescribeNetworkInterfaces",
    "sts:GetCallerIdentity",
    # The Athena console lists these to pick a workgroup (the analyst role): no resource-level permission.
    "athena:ListDataCatalogs",
    "athena:ListEngineVersions",
    "athena:ListWorkGroups",
}


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


def _text(node: Any) -> str:
    return json.dumps(node, sort_keys=True)


# ------------------------------------------------------------------------------ manifest and files


def test_manifest_points_at_existing_files(manifest: Manifest) -> None:
    assert manifest.missing_files() == []


def test_images_live_under_lambdas(manifest: Manifest) -> None:
    assert [i.folder for i in manifest.images if not i.folder.startswith("lambdas/")] == []


def test_every_template_is_deployed_by_the_manifest(manifest: Manifest) -> None:
    listed = {stack.template_path for stack in manifest.stacks}
    unlisted = [_rel(p) for p in template_paths() if p not in listed]
    assert unlisted == [], "templates no stack in ci/ingestion_jobs.json deploys"


def test_parameter_files_match_their_templates(manifest: Manifest) -> None:
    problems = [
        problem
        for environment in manifest.environments()
        for stack in manifest.stacks
        for problem in check_parameters(stack, environment).problems()
    ]
    assert problems == []


def test_no_stray_parameter_files(manifest: Manifest) -> None:
    expected = {stack.parameter_file(env) for env in manifest.environments() for stack in manifest.stacks}
    expected |= {manifest.stacks[0].settings_file(env) for env in manifest.environments()}
    found = set((REPO_ROOT / "ci" / "environments").rglob("*.json"))
    assert sorted(_rel(p) for p in found - expected) == []


def test_each_environment_has_one_brand(manifest: Manifest) -> None:
    for environment in manifest.environments():
        assert re.match(r"^[a-z][a-z0-9-]{1,20}$", brand_of(environment, manifest.stacks))


def test_ecr_repositories_are_the_manifest_images(manifest: Manifest, templates: dict[Path, Any]) -> None:
    ecr = templates[REPO_ROOT / "infrastructure" / "shared" / "ecr.yaml"]
    names = {
        _text(body["Properties"]["RepositoryName"])
        for body in ecr["Resources"].values()
        if body["Type"] == "AWS::ECR::Repository"
    }
    wanted = {json.dumps({"Fn::Sub": f"${{Brand}}/{image.name}"}, sort_keys=True) for image in manifest.images}
    assert names == wanted
    for image in manifest.images:
        assert image.repository_output in ecr.get("Outputs", {}), f"ecr.yaml lacks output {image.repository_output}"


# ---------------------------------------------------------------------------------- portability


@pytest.mark.parametrize("path", template_paths(), ids=_rel)
def test_no_account_id_or_region_in_templates(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert ACCOUNT_ID.findall(text) == [], "a 12-digit account id is hard-coded"
    assert REGION.findall(text) == [], "a region is hard-coded"
    assert "arn:aws:" not in text, "ARNs must be partition-aware (arn:${AWS::Partition}:...)"


@pytest.mark.parametrize("path", template_paths(), ids=_rel)
def test_templates_take_brand_and_environment(path: Path, templates: dict[Path, Any]) -> None:
    parameters = templates[path].get("Parameters") or {}
    assert {"Brand", "Environment"} <= set(parameters)


# ------------------------------------------------------------------------------------ hardening


def test_stateful_resources_are_retained(templates: dict[Path, Any]) -> None:
    loose = [
        r.where
        for r in iter_resources(templates, *STATEFUL)
        if r.body.get("DeletionPolicy") not in RETAIN or r.body.get("UpdateReplacePolicy") != "Retain"
    ]
    assert loose == []


def _bucket_policies(templates: dict[Path, Any], path: Path) -> list[dict[str, Any]]:
    return [r.properties for r in iter_resources({path: templates[path]}, "AWS::S3::BucketPolicy")]


def test_buckets_are_encrypted_versioned_private_and_tls_only(templates: dict[Path, Any]) -> None:
    for bucket in iter_resources(templates, "AWS::S3::Bucket"):
        props = bucket.properties
        assert props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration"), bucket.where
        assert props.get("VersioningConfiguration", {}).get("Status") == "Enabled", bucket.where
        block = props.get("PublicAccessBlockConfiguration", {})
        flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
        assert all(str(block.get(flag)).lower() == "true" for flag in flags), bucket.where
        policies = [
            p for p in _bucket_policies(templates, bucket.template) if bucket.logical_id in refs(p.get("Bucket"))
        ]
        denies_plain_http = any(
            s.get("Effect") == "Deny" and "aws:SecureTransport" in _text(s.get("Condition"))
            for p in policies
            for s in p["PolicyDocument"]["Statement"]
        )
        assert denies_plain_http, f"{bucket.where}: no bucket policy denying aws:SecureTransport false"


def test_tables_have_pitr_encryption_and_deletion_protection(templates: dict[Path, Any]) -> None:
    for table in iter_resources(templates, "AWS::DynamoDB::Table"):
        props = table.properties
        pitr = props.get("PointInTimeRecoverySpecification", {})
        assert str(pitr.get("PointInTimeRecoveryEnabled")).lower() == "true", table.where
        sse = props.get("SSESpecification", {})
        assert str(sse.get("SSEEnabled")).lower() == "true", table.where
        assert sse.get("KMSMasterKeyId"), f"{table.where}: encrypt with the customer key"
        assert str(props.get("DeletionProtectionEnabled")).lower() == "true", table.where
        assert props.get("BillingMode") == "PAY_PER_REQUEST", table.where


def test_queues_topics_and_log_groups_are_encrypted(templates: dict[Path, Any]) -> None:
    for queue in iter_resources(templates, "AWS::SQS::Queue"):
        assert queue.properties.get("KmsMasterKeyId"), queue.where
    for topic in iter_resources(templates, "AWS::SNS::Topic"):
        assert topic.properties.get("KmsMasterKeyId"), topic.where
    for group in iter_resources(templates, "AWS::Logs::LogGroup"):
        assert group.properties.get("RetentionInDays"), f"{group.where}: log group without retention"


def test_kms_keys_rotate(templates: dict[Path, Any]) -> None:
    for key in iter_resources(templates, "AWS::KMS::Key"):
        assert str(key.properties.get("EnableKeyRotation")).lower() == "true", key.where


def _statements(resource: Any) -> list[tuple[str, dict[str, Any]]]:
    props = resource.properties
    documents = []
    if resource.type == "AWS::IAM::Role":
        documents = [(p.get("PolicyName", "?"), p["PolicyDocument"]) for p in props.get("Policies", [])]
    elif resource.type in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
        documents = [(resource.logical_id, props["PolicyDocument"])]
    found = []
    for name, document in documents:
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            found.append((f"{resource.where} ({name})", statement))
    return found


def test_iam_policies_name_actions_and_resources(templates: dict[Path, Any]) -> None:
    problems = []
    for resource in iter_resources(templates, "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for where, statement in _statements(resource):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if "NotAction" in statement or "NotResource" in statement:
                problems.append(f"{where}: NotAction/NotResource in an Allow")
            for action in actions:
                if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                    problems.append(f"{where}: wildcard action {action}")
            resources = statement.get("Resource", [])
            resources = [resources] if not isinstance(resources, list) else resources
            if "*" in resources:
                loose = [a for a in actions if a not in NO_RESOURCE_ACTIONS]
                tag_scoped = re.search(r"aws:(Request|Resource)Tag/", _text(statement.get("Condition")))
                if loose and not tag_scoped:
                    problems.append(f"{where}: Resource '*' for actions that take a resource: {loose}")
                if not statement.get("Sid"):
                    problems.append(f"{where}: a Resource '*' statement needs a Sid naming why")
    assert problems == []


def test_checkov_skips_carry_reasons(templates: dict[Path, Any]) -> None:
    missing = []
    for resource in iter_resources(templates):
        for skip in (resource.body.get("Metadata") or {}).get("checkov", {}).get("skip", []):
            if len(str(skip.get("comment", "")).strip()) < 10:
                missing.append(f"{resource.where}: {skip.get('id')}")
    assert missing == []


# ------------------------------------------------------------------------ functions, alarms, runbooks


def _alarms(templates: dict[Path, Any], path: Path) -> list[Any]:
    return list(iter_resources({path: templates[path]}, "AWS::CloudWatch::Alarm"))


def test_every_function_is_a_manifest_image_with_code(manifest: Manifest, templates: dict[Path, Any]) -> None:
    stack_of = {stack.template_path: stack for stack in manifest.stacks}
    for function in iter_resources(templates, "AWS::Lambda::Function"):
        props = function.properties
        assert props.get("PackageType") == "Image", function.where
        parameter = props.get("Code", {}).get("ImageUri", {}).get("Ref")
        stack = stack_of[function.template]
        assert parameter in stack.images, f"{function.where}: ImageUri must be a parameter the manifest feeds"
        image = manifest.image(stack.images[parameter])
        folder = REPO_ROOT / image.folder
        for name in ("app.py", "requirements.txt", "Dockerfile"):
            assert (folder / name).is_file(), f"{image.folder}/{name} is missing"
        assert str(props.get("TracingConfig", {}).get("Mode")) == "Active", function.where


def test_every_function_and_dead_letter_queue_has_an_alarm(templates: dict[Path, Any]) -> None:
    for path, template in templates.items():
        watched: set[str] = set()
        for alarm in _alarms(templates, path):
            watched |= refs(alarm.properties.get("Dimensions", []))
            watched |= refs(alarm.properties.get("Metrics", []))
        for function in iter_resources({path: template}, "AWS::Lambda::Function"):
            assert function.logical_id in watched, f"{function.where}: no alarm watches this function"
        for queue in iter_resources({path: template}, "AWS::SQS::Queue"):
            name = _text(queue.properties.get("QueueName", queue.logical_id)).lower()
            if "dlq" in name or "dead" in name:
                assert queue.logical_id in watched, f"{queue.where}: no alarm watches this dead-letter queue"


# Alarms generated per resource (infrastructure/monitoring/platform-alarms.yaml, one per table or function)
# share one page per kind: a family page serves every alarm whose slug matches its pattern.
RUNBOOK_FAMILIES = {
    "dynamodb-table-throttled": re.compile(r"[a-z0-9-]+-table-throttled"),
    "dynamodb-table-system-errors": re.compile(r"[a-z0-9-]+-table-system-errors"),
    "lambda-concurrency-near-limit": re.compile(r"[a-z0-9-]+-concurrency-near-limit"),
    # The stale alarm of each curated-tables job (infrastructure/analytics/curated-tables.yaml).
    "curated-tables-stale": re.compile(r"(shopify-curated|recharge-curated|marketing-daily)-stale"),
}


def _runbook_of(slug: str) -> str:
    """The runbook page of an alarm: its family's page, or the page named after it."""
    return next((page for page, pattern in RUNBOOK_FAMILIES.items() if pattern.fullmatch(slug)), slug)


def test_every_alarm_is_named_alerts_and_has_a_runbook(templates: dict[Path, Any]) -> None:
    for alarm in iter_resources(templates, "AWS::CloudWatch::Alarm"):
        name = alarm.properties.get("AlarmName", {})
        text = name.get("Fn::Sub") if isinstance(name, dict) else None
        match = re.fullmatch(r"\$\{Brand\}-\$\{Environment\}-([a-z0-9-]+)", str(text))
        assert match, f"{alarm.where}: AlarmName must be !Sub '${{Brand}}-${{Environment}}-<slug>'"
        slug = _runbook_of(match.group(1))
        runbook = REPO_ROOT / "docs" / "runbooks" / f"{slug}.md"
        assert runbook.is_file(), f"{alarm.where}: docs/runbooks/{slug}.md is missing"
        assert f"docs/runbooks/{slug}.md" in _text(alarm.properties.get("AlarmDescription")), alarm.where
        assert alarm.properties.get("AlarmActions"), f"{alarm.where}: the alarm notifies nobody"


def _alert_rules(templates: dict[Path, Any]) -> list[Any]:
    """EventBridge rules that notify the alerts topic: alerts like alarms, with a name and a runbook."""
    return [
        rule
        for rule in iter_resources(templates, "AWS::Events::Rule")
        if "AlertsTopicArn" in refs(rule.properties.get("Targets", []))
    ]


def test_every_alert_rule_is_named_and_has_a_runbook(templates: dict[Path, Any]) -> None:
    for rule in _alert_rules(templates):
        name = rule.properties.get("Name", {})
        text = name.get("Fn::Sub") if isinstance(name, dict) else None
        match = re.fullmatch(r"\$\{Brand\}-\$\{Environment\}-([a-z0-9-]+)", str(text))
        assert match, f"{rule.where}: an alert rule's Name must be !Sub '${{Brand}}-${{Environment}}-<slug>'"
        slug = match.group(1)
        assert (REPO_ROOT / "docs" / "runbooks" / f"{slug}.md").is_file(), f"{rule.where}: docs/runbooks/{slug}.md"
        assert f"docs/runbooks/{slug}.md" in _text(rule.properties.get("Description")), rule.where


OPERATOR_PROCEDURES = {"rollback"}  # runbooks the issues name that no single alarm owns


def test_runbooks_belong_to_alarms(templates: dict[Path, Any]) -> None:
    slugs = set()
    named = [_text(a.properties.get("AlarmName")) for a in iter_resources(templates, "AWS::CloudWatch::Alarm")]
    named += [_text(rule.properties.get("Name")) for rule in _alert_rules(templates)]
    for name in named:
        match = re.search(r"-\$\{Environment\}-([a-z0-9-]+)", name)
        if match:
            slugs.add(_runbook_of(match.group(1)))
    documented = {p.stem for p in (REPO_ROOT / "docs" / "runbooks").glob("*.md")}
    operator_pages = {p for p in documented if p.startswith(("how-to-", "README"))} | OPERATOR_PROCEDURES
    assert sorted(documented - slugs - operator_pages - {"index"}) == [], "runbooks for alarms that no longer exist"


# ------------------------------------------------------------------------------------------ glue jobs

GLUE_FAILURE_STATES = {"FAILED", "TIMEOUT", "ERROR"}


def _s3_sub(node: Any) -> tuple[str, str] | None:
    """('<BucketParameter>', '<key>') of !Sub 's3://${BucketParameter}/<key>', else None."""
    text = node.get("Fn::Sub") if isinstance(node, dict) else None
    match = re.fullmatch(r"s3://\$\{([A-Za-z0-9]+)\}/(.+)", str(text))
    return (match.group(1), match.group(2)) if match else None


def _glue_jobs(templates: dict[Path, Any]) -> list[Any]:
    return list(iter_resources(templates, "AWS::Glue::Job"))


def test_every_glue_job_notifies_its_failures(templates: dict[Path, Any]) -> None:
    """A failed, timed-out or errored run reaches the alerts topic (the rule's runbook is checked above)."""
    for job in _glue_jobs(templates):
        covered = False
        for rule in _alert_rules({job.template: templates[job.template]}):
            pattern = rule.properties.get("EventPattern") or {}
            detail = pattern.get("detail") or {}
            covered = covered or (
                "aws.glue" in pattern.get("source", [])
                and "Glue Job State Change" in pattern.get("detail-type", [])
                and job.logical_id in refs(detail.get("jobName"))
                and set(detail.get("state", [])) >= GLUE_FAILURE_STATES
            )
        assert covered, (
            f"{job.where}: no EventBridge rule sends its Glue Job State Change FAILED/TIMEOUT/ERROR to AlertsTopicArn"
        )


def test_glue_job_scripts_are_repository_files_the_manifest_uploads(
    manifest: Manifest, templates: dict[Path, Any]
) -> None:
    """ScriptLocation and --extra-py-files name files under a folder the stack's manifest entry uploads,
    into the bucket the job reads them from; the files exist in the repository."""
    stack_of = {stack.template_path: stack for stack in manifest.stacks}
    problems = []
    for job in _glue_jobs(templates):
        stack = stack_of[job.template]
        locations = [job.properties.get("Command", {}).get("ScriptLocation")]
        extra = (job.properties.get("DefaultArguments") or {}).get("--extra-py-files")
        if extra is not None:
            text = extra.get("Fn::Sub") if isinstance(extra, dict) else extra
            locations += [{"Fn::Sub": part.strip()} for part in str(text).split(",")]
        for location in locations:
            parsed = _s3_sub(location)
            if parsed is None:
                problems.append(f"{job.where}: {_text(location)} is not !Sub 's3://${{<BucketParameter>}}/<key>'")
                continue
            parameter, key = parsed
            uploads = [u for u in stack.uploads if stack.inputs.get(parameter) == u.bucket and key.startswith(u.prefix)]
            if not uploads:
                problems.append(f"{job.where}: s3://${{{parameter}}}/{key} is not under an upload of {stack.key}")
                continue
            source = REPO_ROOT / uploads[0].source / key.removeprefix(uploads[0].prefix)
            if not source.is_file():
                problems.append(f"{job.where}: {_rel(source)} does not exist (the job would start without it)")
    assert problems == []


def _glue_imports(module: str, seen: set[str] | None = None) -> set[str]:
    """The modules of glue-scripts/ that ``module`` imports, directly or through one another."""
    import ast

    seen = set() if seen is None else seen
    tree = ast.parse((REPO_ROOT / "glue-scripts" / f"{module}.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        names += [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
        for name in names:
            if name not in seen and (REPO_ROOT / "glue-scripts" / f"{name}.py").is_file():
                seen.add(name)
                _glue_imports(name, seen)
    return seen


def test_glue_jobs_ship_every_module_their_script_imports(templates: dict[Path, Any]) -> None:
    """--extra-py-files lists exactly the glue-scripts/ modules the entry script imports (Glue puts nothing
    else beside it: a module left out fails the run only on AWS, at import)."""
    problems = []
    for job in _glue_jobs(templates):
        entry = _s3_sub(job.properties.get("Command", {}).get("ScriptLocation"))
        extra = (job.properties.get("DefaultArguments") or {}).get("--extra-py-files") or ""
        text = str(extra.get("Fn::Sub") if isinstance(extra, dict) else extra)
        shipped = {Path(part.strip()).stem for part in text.split(",") if part.strip()}
        if entry is None or not (REPO_ROOT / "glue-scripts" / Path(entry[1]).name).is_file():
            continue  # reported by test_glue_job_scripts_are_repository_files_the_manifest_uploads
        imported = _glue_imports(Path(entry[1]).stem)
        if shipped != imported:
            problems.append(f"{job.where}: ships {sorted(shipped)}, the script imports {sorted(imported)}")
    assert problems == []


def test_glue_jobs_are_encrypted_and_their_role_reads_their_scripts(
    manifest: Manifest, templates: dict[Path, Any]
) -> None:
    stack_of = {stack.template_path: stack for stack in manifest.stacks}
    for job in _glue_jobs(templates):
        assert job.properties.get("SecurityConfiguration"), f"{job.where}: no security configuration"
        role_id = next(iter(refs(job.properties.get("Role"))), None)
        role = templates[job.template]["Resources"].get(role_id or "")
        assert role, f"{job.where}: Role must be a role of the same template"
        assert role["Type"] == "AWS::IAM::Role", f"{job.where}: Role must be a role of the same template"
        readable = [
            _text(statement.get("Resource"))
            for _, statement in _statements(Resource(job.template, role_id or "", role))
            if statement.get("Effect") == "Allow" and "s3:GetObject" in _text(statement.get("Action"))
        ]
        for upload in stack_of[job.template].uploads:
            assert any(f"/{upload.prefix}*" in text for text in readable), (
                f"{job.where}: its role cannot s3:GetObject {upload.prefix}* (the scripts Glue downloads)"
            )


def _glue_script(name: str) -> Any:
    """A module of glue-scripts/ (imported as the job imports it: by its file name)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "glue-scripts" / f"{name}.py")
        assert spec is not None, f"glue-scripts/{name}.py is missing"
        assert spec.loader is not None, f"glue-scripts/{name}.py is missing"
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_the_orders_enriched_table_has_the_columns_the_job_writes(templates: dict[Path, Any]) -> None:
    """The catalog lists exactly the job's output columns, in the job's order, with its partition column as
    the partition key. Their types against what Spark writes: tests/glue."""
    template = templates[REPO_ROOT / "infrastructure" / "shopify" / "glue-jobs.yaml"]
    table = template["Resources"]["OrdersEnrichedTable"]["Properties"]["TableInput"]
    written = list(_glue_script("orders_enriched").OUTPUT_COLUMNS)
    partitions = [key["Name"] for key in table.get("PartitionKeys", [])]
    assert partitions == ["dt"]
    columns = [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
    assert len(columns) == len(set(columns)), "a column is listed twice"
    assert columns == [c for c in written if c not in partitions]
    assert all(c.get("Comment") for c in table["StorageDescriptor"]["Columns"]), "every column has a Comment"


# --------------------------------------------------------------------------------- local cloud


def test_local_cloud_handles_every_type_and_property(templates: dict[Path, Any]) -> None:
    from platformctl.localcloud.properties import NATIVE_TYPES
    from platformctl.localcloud.providers import REGISTRY

    problems = []
    for resource in iter_resources(templates):
        if resource.type in REGISTRY:
            provider = REGISTRY[resource.type]
            handled, inert = set(provider.PROPERTIES), set(provider.INERT)
        elif resource.type in NATIVE_TYPES:
            spec = NATIVE_TYPES[resource.type]
            handled, inert = spec.handled, set(spec.inert)
        else:
            problems.append(f"{resource.where}: type {resource.type} is not handled by the local cloud")
            continue
        unknown = set(resource.properties) - handled - inert
        if unknown:
            problems.append(f"{resource.where}: {resource.type} properties not handled locally: {sorted(unknown)}")
    assert problems == []


# ----------------------------------------------------------------------------------- images


def test_dockerfiles_build_from_the_repository_root(manifest: Manifest) -> None:
    for image in manifest.images:
        dockerfile = (REPO_ROOT / image.dockerfile).read_text(encoding="utf-8")
        assert "public.ecr.aws/lambda/python:3.11" in dockerfile, image.dockerfile
        assert "lambdas/common" in dockerfile, f"{image.dockerfile} must copy the shared library"
        assert f"COPY {image.folder}/*.py ${{LAMBDA_TASK_ROOT}}/{_package_path(image)}/" in dockerfile, (
            f"{image.dockerfile} must copy its own package to its path under the task root"
        )
        source = _package_path(image).split("/")[0]
        assert f"COPY lambdas/{source}/__init__.py ${{LAMBDA_TASK_ROOT}}/{source}/" in dockerfile, (
            f"{image.dockerfile} must copy the {source} package's __init__.py"
        )
        assert _handler_cmd(image) in dockerfile, f"{image.dockerfile}: CMD must name {_handler_cmd(image)}"


def _package_path(image: Image) -> str:
    """Where the image's function lives under the task root: its path under lambdas/ (a package)."""
    return image.folder.removeprefix("lambdas/")


def _handler_cmd(image: Image) -> str:
    return f'CMD ["{_package_path(image).replace("/", ".")}.app.handler"]'


def _instructions(dockerfile: str) -> list[str]:
    return [line for line in dockerfile.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_every_image_finishes_its_task_root_after_copying_its_code(manifest: Manifest) -> None:
    finish = 'RUN python /tmp/finish_task_root.py "${LAMBDA_TASK_ROOT}"'
    for image in manifest.images:
        lines = _instructions((REPO_ROOT / image.dockerfile).read_text(encoding="utf-8"))
        finishing = [i for i, line in enumerate(lines) if line.startswith(finish)]
        assert len(finishing) == 1, f"{image.dockerfile}: run scripts/finish_task_root.py once, as the last step"
        copies = [i for i, line in enumerate(lines) if line.startswith("COPY lambdas/")]
        assert copies, image.dockerfile
        assert max(copies) < finishing[0], f"{image.dockerfile}: finish the task root after the code is in"
        assert lines[finishing[0] + 1 :] == [_handler_cmd(image)], image.dockerfile


def test_the_build_context_holds_what_the_dockerfiles_copy(manifest: Manifest) -> None:
    """.dockerignore is an allow-list: a COPY of anything it leaves out would fail the build."""
    allowed = [
        line[1:].rstrip("/")
        for line in (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    ]
    for image in manifest.images:
        for line in _instructions((REPO_ROOT / image.dockerfile).read_text(encoding="utf-8")):
            if line.startswith("COPY "):
                for source in line.split()[1:-1]:
                    assert any(source == a or source.startswith(f"{a}/") for a in allowed), (
                        f"{image.dockerfile}: {source} is not in the build context (.dockerignore)"
                    )


def test_lambda_requirements_are_pinned_like_the_dev_environment(manifest: Manifest) -> None:
    # The files are hashed locks: `name==version \` lines, each followed by its `--hash=` lines.
    dev = {}
    for line in (REPO_ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            dev[re.sub(r"\[.*\]", "", name).strip().lower()] = version.rstrip("\\ ").strip()
    for image in manifest.images:
        for raw in (REPO_ROOT / image.folder / "requirements.txt").read_text(encoding="utf-8").splitlines():
            line = raw.split("#")[0].rstrip("\\ ").strip()
            if not line or line.startswith("--hash="):
                continue
            assert "==" in line, f"{image.folder}/requirements.txt: {line} is not pinned"
            name, _, version = line.partition("==")
            key = re.sub(r"\[.*\]", "", name).strip().lower()
            if key in dev:
                assert version.strip() == dev[key], f"{image.folder}: {key} {version} differs from requirements-dev"


def test_a_change_to_any_uploaded_folder_deploys(manifest: Manifest) -> None:
    """The deploy workflow runs on a push that changes a folder the deploy uploads (Glue scripts, specs)."""
    import yaml

    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "deploy-infrastructure.yml").read_text())
    push = workflow.get("on", workflow.get(True))["push"]
    sources = {upload.source.rstrip("/") for stack in manifest.stacks for upload in stack.uploads}
    assert sources, "the manifest uploads nothing: this test no longer tests anything"
    assert "paths-ignore" not in push
    if "paths" not in push:
        return  # every push to main deploys
    paths = push["paths"]
    folders = [p.removesuffix("/**") for p in paths if p.endswith("/**")]
    assert sorted(s for s in sources if not any(f"{s}/".startswith(f"{f}/") for f in folders)) == []


def test_bootstrap_templates_fit_inline(manifest: Manifest) -> None:
    """A bootstrap stack deploys before the lake exists, so its template cannot go through S3: it must fit
    CloudFormation's inline limit (also what `aws cloudformation deploy` accepts without --s3-bucket)."""
    from platformctl.deploy import TEMPLATE_BODY_LIMIT

    too_large = {
        stack.template: size
        for stack in manifest.stacks
        if stack.bootstrap and (size := len(stack.template_path.read_bytes())) > TEMPLATE_BODY_LIMIT
    }
    assert too_large == {}, f"bootstrap templates over {TEMPLATE_BODY_LIMIT} bytes: split them"
