"""The spec and the settings: the shipped spec is valid and fits the role; bad ones fail naming the problem."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
import yaml

from common.config import ConfigError, load_settings
from platformctl.manifest import REPO_ROOT, load_manifest
from tests.unit.data_quality.conftest import SPEC_FILE, SPEC_KEY, Lake, RunnerFactory, environment

TEMPLATE = REPO_ROOT / "infrastructure" / "data-quality" / "data-quality.yaml"


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags kept as {'!Tag': value}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {f"!{suffix}": value}


_Loader.add_multi_constructor("!", _tag)


def _template() -> dict[str, Any]:
    return dict(yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_Loader))


def _statement(sid: str) -> dict[str, Any]:
    role = _template()["Resources"]["DataQualityRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    return dict(next(s for s in statements if s.get("Sid") == sid))


def _statements() -> list[dict[str, Any]]:
    role = _template()["Resources"]["DataQualityRole"]["Properties"]
    return [dict(s) for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


def _shipped() -> dict[str, Any]:
    return dict(json.loads(SPEC_FILE.read_text(encoding="utf-8")))


def _check(spec: dict[str, Any], check_id: str) -> dict[str, Any]:
    """The spec's entry itself (changing it changes the spec)."""
    found: dict[str, Any] = next(c for c in spec["checks"] if c["id"] == check_id)
    return found


def test_the_shipped_spec_is_valid() -> None:
    from data_quality.checks import spec as dq_spec

    spec = dq_spec.load_spec(SPEC_FILE.read_bytes(), "shipped")
    types = {check.type for check in spec.checks}
    assert types == set(dq_spec.CHECK_TYPES)
    assert set(spec.sources) == {"shopify", "shopify-bulk", "recharge", "triplewhale"}


def test_the_role_may_list_every_prefix_the_spec_reads() -> None:
    from data_quality.checks import spec as dq_spec

    spec = dq_spec.load_spec(SPEC_FILE.read_bytes(), "shipped")
    patterns = _statement("ListTheCheckedPrefixes")["Condition"]["StringLike"]["s3:prefix"]
    prefixes = {check.prefix for check in spec.checks} | {source.landing for source in spec.sources.values()}
    for prefix in prefixes:
        assert any(fnmatch.fnmatchcase(prefix, pattern) for pattern in patterns), f"the role may not list {prefix}"


def test_the_role_allows_every_read_a_run_makes(lake: Lake, make_runner: RunnerFactory) -> None:
    """Each listing's prefix matches the role's s3:prefix condition and each object read its GetObject
    resources: the bulk checks list run folders and look for manifests, never read a checkpoint."""
    lake.put("raw/shopify/webhooks/orders/topic=orders_create/dt=2020-01-01/event-1.json")
    lake.put("quarantine/shopify/dt=2020-01-01/bad-json/x.json")
    lake.put_manifest("100")
    lake.put_reconciliation("100", in_window=30, current=30)
    lake.put("metadata/shopify/bulk/run=101/checkpoints/step-00001.ckpt", b"x")
    lake.put("metadata/shopify/bulk/watermark.json")
    runner = make_runner()
    runner.run({}, "req-0")  # keeps the volume history the run below reads
    listed: list[str] = []
    read: list[str] = []
    list_objects, get_object = lake.s3.list_objects_v2, lake.s3.get_object

    def spy_list(**arguments: Any) -> Any:
        listed.append(arguments["Prefix"])
        return list_objects(**arguments)

    def spy_get(**arguments: Any) -> Any:
        read.append(arguments["Key"])
        return get_object(**arguments)

    lake.s3.list_objects_v2, lake.s3.get_object = spy_list, spy_get
    runner.run({}, "req-1")
    patterns = _statement("ListTheCheckedPrefixes")["Condition"]["StringLike"]["s3:prefix"]
    for prefix in listed:
        assert any(fnmatch.fnmatchcase(prefix, pattern) for pattern in patterns), f"the role may not list {prefix}"
    resources = [
        r["!Sub"].split("${DataLakeBucketName}/", 1)[1]
        for r in _statement("ReadTheSpecAndTheBulkRunManifests")["Resource"]
    ]
    for key in read:
        assert any(fnmatch.fnmatchcase(key, resource) for resource in resources), f"the role may not read {key}"
    assert "metadata/shopify/bulk/run=100/manifest.json" in read
    assert "metadata/shopify/bulk/run=100/reconciliation.json" in read
    assert any(key.startswith("metadata/data-quality-volume/volume-shopify-orders/dt=") for key in read)
    assert "metadata/shopify/bulk/run=101/manifest.json" in listed


def test_the_role_writes_only_the_results_and_the_volume_history() -> None:
    resource = _statement("WriteTheResults")["Resource"]
    assert resource == [
        {"!Sub": "arn:${AWS::Partition}:s3:::${DataLakeBucketName}/metadata/data-quality/*"},
        {"!Sub": "arn:${AWS::Partition}:s3:::${DataLakeBucketName}/metadata/data-quality-volume/*"},
    ]
    # Metrics leave as embedded-metric log lines, as every function's do: the role may not put metrics.
    actions = [a for statement in _statements() for a in _actions(statement)]
    assert not [a for a in actions if a.startswith("cloudwatch:")]


def test_the_spec_key_is_where_the_deploy_tool_uploads_the_spec() -> None:
    stack = next(s for s in load_manifest().stacks if s.job == "data-quality")
    [upload] = stack.uploads
    assert upload.source == "data-ingestion/data-quality"
    variables = _template()["Resources"]["DataQualityFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["SPEC_KEY"] == upload.prefix + SPEC_FILE.name == SPEC_KEY


def test_a_bad_spec_names_every_problem() -> None:
    from data_quality.checks import spec as dq_spec

    spec = _shipped()
    spec["checks"][0]["max_age_hour"] = 3  # a typo
    spec["checks"][1]["id"] = spec["checks"][2]["id"]  # a duplicate
    spec["checks"][3]["type"] = "volume"
    spec["checks"][4]["source"] = "klaviyo"
    spec["checks"][5]["prefix"] = "raw/../secrets/"
    spec["checks"][7]["max_age_hours"] = 500
    _check(spec, "bulk-manifest-latest")["runs"] = 0
    with pytest.raises(dq_spec.SpecError) as error:
        dq_spec.parse_spec(spec, "s3://lake/artifacts/data-quality/checks.json")
    message = str(error.value)
    assert message.startswith("data-quality spec s3://lake/artifacts/data-quality/checks.json is invalid: ")
    assert "unknown field(s) ['max_age_hour']" in message
    assert "is used twice" in message
    assert (
        "type must be one of freshness, bulk_freshness, quarantine, bulk_manifest, webhook_coverage, volume_anomaly, "
        "got 'volume'" in message
    )
    assert "source 'klaviyo' is not one of the spec's sources" in message
    assert "prefix must be a lake prefix ending in '/', got 'raw/../secrets/'" in message
    assert "max_age_hours must be between 0.1 and 168, got 500" in message
    assert "runs must be between 1 and 50, got 0" in message
    assert len(error.value.problems) == 7


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "the document must be a JSON object"),
        ({"version": 2, "sources": {"a": {"landing": "raw/a/"}}, "checks": []}, "version must be 1, got 2"),
        ({"version": 1, "sources": {}, "checks": []}, "sources must be a non-empty object"),
        ({"version": 1, "sources": {"a": {"landing": "raw/a"}}, "checks": []}, "sources.a.landing must be a lake"),
    ],
)
def test_spec_structure_errors(document: Any, problem: str) -> None:
    from data_quality.checks import spec as dq_spec

    with pytest.raises(dq_spec.SpecError, match=problem):
        dq_spec.parse_spec(document, "x")


def test_a_bulk_check_must_read_the_bulk_manifests() -> None:
    from data_quality.checks import spec as dq_spec

    spec = _shipped()
    _check(spec, "bulk-manifest-latest")["prefix"] = "raw/shopify/bulk/"
    with pytest.raises(dq_spec.SpecError, match="prefix must be metadata/shopify/bulk/"):
        dq_spec.parse_spec(spec, "x")


def test_a_run_with_an_invalid_spec_fails_naming_it(lake: Lake, make_runner: RunnerFactory) -> None:
    from data_quality.checks import spec as dq_spec

    lake.put_spec(b"{not json")
    with pytest.raises(dq_spec.SpecError, match=r"s3://acme-data-lake-123456789012/artifacts/.* not valid JSON"):
        make_runner().run({}, "req-1")
    assert lake.keys("metadata/data-quality/") == []
    assert lake.alerts() == []


def test_a_run_without_a_spec_says_how_to_upload_it(lake: Lake, make_runner: RunnerFactory) -> None:
    from data_quality.checks import spec as dq_spec

    lake.s3.delete_object(Bucket="acme-data-lake-123456789012", Key=SPEC_KEY)
    with pytest.raises(
        dq_spec.SpecError,
        match=r"it cannot be read \(NoSuchKey\): most often it was never uploaded, and `platformctl deploy --job "
        r"data-quality` uploads",
    ):
        make_runner().run({}, "req-1")


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"FRESHNESS_MAX_AGE_HOURS": "abc"}, "FRESHNESS_MAX_AGE_HOURS='abc' is not a valid float"),
        ({"FRESHNESS_MAX_AGE_HOURS": "500"}, "FRESHNESS_MAX_AGE_HOURS=500.0 must be between 0.1 and 168"),
        ({"QUARANTINE_MAX_OBJECTS": "-1"}, "QUARANTINE_MAX_OBJECTS=-1 must be between 0 and 1e\\+06"),
        ({"BULK_RUNS_CHECKED": "0"}, "BULK_RUNS_CHECKED=0 must be between 1 and 50"),
        ({"POWERTOOLS_METRICS_NAMESPACE": "acme/Shopify"}, "must be <Brand>/DataQuality"),
        ({"DATA_LAKE_BUCKET_NAME": None}, "missing required environment variable DATA_LAKE_BUCKET_NAME"),
    ],
)
def test_bad_settings_name_the_variable(app_classes: Any, overrides: dict[str, str | None], problem: str) -> None:
    values = {k: v for k, v in {**environment(), **overrides}.items() if v is not None}
    with pytest.raises(ConfigError, match=problem):
        load_settings(app_classes.Settings, values)


def test_an_unknown_disabled_source_is_a_clear_error(lake: Lake, make_runner: RunnerFactory) -> None:
    with pytest.raises(ConfigError, match="DISABLED_SOURCES names unknown source\\(s\\) recarge; the spec's sources"):
        make_runner(DISABLED_SOURCES="recarge").run({}, "req-1")


def test_the_new_check_types_validate_their_fields() -> None:
    from data_quality.checks import spec as dq_spec

    spec = _shipped()
    _check(spec, "webhook-coverage-orders").update(min_coverage=1.5, min_sample=0, weeks=4)
    _check(spec, "volume-shopify-orders").update(weeks=1, lower_band=0, upper_band=200, min_median=-1)
    _check(spec, "bulk-manifest-customers")["resource"] = "orderz"
    _check(spec, "volume-recharge-order")["min_coverage"] = 0.5
    with pytest.raises(dq_spec.SpecError) as error:
        dq_spec.parse_spec(spec, "x")
    message = str(error.value)
    assert "(webhook-coverage-orders): unknown field(s) ['weeks'] for type webhook_coverage" in message
    assert "min_coverage must be between 0 and 1, got 1.5" in message
    assert "min_sample must be between 1 and 1e+06, got 0" in message
    assert "weeks must be between 2 and 8, got 1" in message
    assert "lower_band must be between 0.01 and 1, got 0" in message
    assert "upper_band must be between 0.01 and 100, got 200" in message
    assert "min_median must be between 0 and 1e+06, got -1" in message
    assert "resource must be one of orders, customers, products, got 'orderz'" in message
    assert "(volume-recharge-order): unknown field(s) ['min_coverage'] for type volume_anomaly" in message
    assert len(error.value.problems) == 9


def test_the_new_check_types_parse_their_thresholds() -> None:
    from data_quality.checks import spec as dq_spec

    spec = _shipped()
    _check(spec, "webhook-coverage-orders").update(min_coverage=0.9, min_sample=50, runs=3)
    _check(spec, "volume-shopify-orders").update(weeks=6, lower_band=0.4, upper_band=5, min_median=100)
    checks = {check.id: check for check in dq_spec.parse_spec(spec, "x").checks}
    coverage, volume = checks["webhook-coverage-orders"], checks["volume-shopify-orders"]
    assert (coverage.min_coverage, coverage.min_sample, coverage.runs) == (0.9, 50, 3)
    assert (volume.weeks, volume.lower_band, volume.upper_band, volume.min_median) == (6, 0.4, 5.0, 100)
    assert volume.folders_before_dt == 1
    assert checks["bulk-manifest-customers"].resource == "customers"
    assert checks["bulk-manifest-latest"].resource == "orders"


def test_a_coverage_check_must_read_the_bulk_runs() -> None:
    from data_quality.checks import spec as dq_spec

    spec = _shipped()
    _check(spec, "webhook-coverage-orders")["prefix"] = "raw/shopify/webhooks/orders/"
    with pytest.raises(dq_spec.SpecError, match="a webhook_coverage check reads the bulk run manifests"):
        dq_spec.parse_spec(spec, "x")


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"WEBHOOK_COVERAGE_MIN": "1.2"}, "WEBHOOK_COVERAGE_MIN=1.2 must be between 0 and 1"),
        ({"WEBHOOK_COVERAGE_MIN_SAMPLE": "0"}, "WEBHOOK_COVERAGE_MIN_SAMPLE=0 must be between 1 and"),
        ({"VOLUME_WEEKS": "1"}, "VOLUME_WEEKS=1 must be between 2 and 8"),
        ({"VOLUME_LOWER_BAND": "0"}, "VOLUME_LOWER_BAND=0.0 must be between 0.01 and 1"),
        ({"VOLUME_UPPER_BAND": "101"}, "VOLUME_UPPER_BAND=101.0 must be between 0.01 and 100"),
        ({"VOLUME_MIN_MEDIAN": "-1"}, "VOLUME_MIN_MEDIAN=-1 must be between 0 and"),
    ],
)
def test_bad_new_settings_name_the_variable(app_classes: Any, overrides: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_settings(app_classes.Settings, {**environment(), **overrides})


def test_the_stack_passes_every_threshold_to_the_function() -> None:
    """Each threshold parameter reaches the function, and every environment's file sets it."""
    template = _template()
    variables = template["Resources"]["DataQualityFunction"]["Properties"]["Environment"]["Variables"]
    passed = {value["!Ref"] for value in variables.values() if isinstance(value, dict) and "!Ref" in value}
    new = {"WebhookCoverageMin", "WebhookCoverageMinSample", "VolumeWeeks", "VolumeLowerBand", "VolumeUpperBand"}
    new.add("VolumeMinMedian")
    assert new <= passed <= set(template["Parameters"])
    for path in sorted((REPO_ROOT / "ci" / "environments").glob("*/data-quality/data-quality.json")):
        keys = {entry["ParameterKey"] for entry in json.loads(path.read_text(encoding="utf-8"))}
        assert new <= keys, f"{path} does not set {sorted(new - keys)}"
