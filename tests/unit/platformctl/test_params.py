from __future__ import annotations

import json
from pathlib import Path

import pytest

from platformctl.errors import UserError
from platformctl.manifest import OutputRef, Stack
from platformctl.params import ParameterCheck, read_parameter_file, resolve_parameters
from platformctl.templates import parse_template_text

TEMPLATE = """
Parameters:
  Brand: {Type: String}
  Environment: {Type: String}
  BucketName: {Type: String}
  ImageUri: {Type: String}
  Retention: {Type: Number, Default: 30}
Resources:
  Topic: {Type: AWS::SNS::Topic}
"""


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    template = tmp_path / "t.yaml"
    template.write_text(TEMPLATE, encoding="utf-8")
    monkeypatch.setattr("platformctl.manifest.REPO_ROOT", tmp_path)
    monkeypatch.setattr("platformctl.params.REPO_ROOT", tmp_path)
    monkeypatch.setattr("platformctl.manifest.ENVIRONMENTS_DIR", tmp_path / "environments")
    (tmp_path / "environments" / "prod" / "job").mkdir(parents=True)
    return Stack(
        job="job",
        name="s",
        template="t.yaml",
        inputs={"BucketName": OutputRef("shared", "lake", "BucketName")},
        images={"ImageUri": "img"},
    )


def _params(stack: Stack, values: dict[str, str] | str) -> None:
    path = stack.parameter_file("prod")
    text = (
        values
        if isinstance(values, str)
        else json.dumps([{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()])
    )
    path.write_text(text, encoding="utf-8")


def test_resolves_file_outputs_and_images(stack: Stack) -> None:
    _params(stack, {"Brand": "acme", "Environment": "prod"})
    values = resolve_parameters(
        stack, "prod", {"shared/lake": {"BucketName": "acme-lake"}}, lambda image: f"repo/{image}:abc"
    )
    assert values == {"Brand": "acme", "Environment": "prod", "BucketName": "acme-lake", "ImageUri": "repo/img:abc"}


def test_a_parameter_nothing_fills_names_stack_and_parameter(stack: Stack) -> None:
    _params(stack, {"Brand": "acme"})
    problems = ParameterCheck(stack, "prod", read_parameter_file(stack.parameter_file("prod"))).problems()
    assert problems == [
        "stack job/s: parameter Environment has no value: add it to environments/prod/job/s.json "
        "or feed it from an earlier stack in ci/ingestion_jobs.json"
    ]


def test_unknown_and_fed_keys_in_the_file_are_errors(stack: Stack) -> None:
    _params(stack, {"Brand": "a", "Environment": "p", "Nope": "x", "BucketName": "b"})
    problems = ParameterCheck(stack, "prod", read_parameter_file(stack.parameter_file("prod"))).problems()
    assert any("Nope is not a parameter" in p for p in problems)
    assert any("BucketName is fed by" in p for p in problems)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ('{"Brand": "a"}', "expected a list"),
        ('[{"ParameterKey": "Brand"}]', "entry 0 must be exactly"),
        ('[{"ParameterKey": "Brand", "ParameterValue": 1}]', "entry 0 must be exactly"),
        (
            '[{"ParameterKey": "Brand", "ParameterValue": "a"}, {"ParameterKey": "Brand", "ParameterValue": "b"}]',
            "listed twice",
        ),
    ],
)
def test_malformed_parameter_files_name_the_file(stack: Stack, text: str, message: str) -> None:
    _params(stack, text)
    with pytest.raises(UserError, match=message) as caught:
        read_parameter_file(stack.parameter_file("prod"))
    assert "s.json" in str(caught.value)


def test_missing_parameter_file(stack: Stack) -> None:
    with pytest.raises(UserError, match="does not exist"):
        read_parameter_file(stack.parameter_file("prod"))


def test_an_undeployed_source_stack_is_explained(stack: Stack) -> None:
    _params(stack, {"Brand": "acme", "Environment": "prod"})
    with pytest.raises(UserError, match="shared/lake is not deployed in prod: deploy it first"):
        resolve_parameters(stack, "prod", {}, lambda image: image)


def test_local_placeholders_only_in_local(stack: Stack) -> None:
    _params(stack, {"Brand": "acme", "Environment": "{{local:simulators.shopify}}"})
    problems = ParameterCheck(stack, "prod", read_parameter_file(stack.parameter_file("prod"))).problems()
    assert any("{{local:...}}" in p for p in problems)


@pytest.mark.parametrize(
    ("text", "message"),
    [("a: [", "not valid YAML/JSON"), ("Parameters: {}", "no Resources mapping"), ("[1]", "no Resources")],
)
def test_malformed_templates_name_the_file(text: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as caught:
        parse_template_text(text, "infrastructure/x.yaml")
    assert "infrastructure/x.yaml" in str(caught.value)


def test_short_tags_become_intrinsics() -> None:
    template = parse_template_text(
        "Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n"
        "      TopicName: !Sub '${Brand}-x'\n      DisplayName: !GetAtt Q.Arn\n      Tags: [!Ref B]\n",
        "t",
    )
    props = template["Resources"]["T"]["Properties"]
    assert props == {
        "TopicName": {"Fn::Sub": "${Brand}-x"},
        "DisplayName": {"Fn::GetAtt": ["Q", "Arn"]},
        "Tags": [{"Ref": "B"}],
    }


def _settings(stack: Stack, values: dict[str, str]) -> None:
    path = stack.settings_file("prod")
    path.write_text(json.dumps([{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]), "utf-8")


def test_environment_settings_reach_every_stack_that_declares_them(stack: Stack) -> None:
    _settings(stack, {"Brand": "acme", "Environment": "prod", "ShopDomain": "acme.myshopify.com"})
    _params(stack, {})
    values = resolve_parameters(
        stack, "prod", {"shared/lake": {"BucketName": "acme-lake"}}, lambda image: f"repo/{image}:abc"
    )
    assert values == {"Brand": "acme", "Environment": "prod", "BucketName": "acme-lake", "ImageUri": "repo/img:abc"}


def test_a_setting_repeated_in_a_stack_file_is_an_error(stack: Stack) -> None:
    _settings(stack, {"Brand": "acme", "Environment": "prod"})
    _params(stack, {"Brand": "other"})
    problems = ParameterCheck(stack, "prod", read_parameter_file(stack.parameter_file("prod"))).problems()
    assert problems == [
        "environments/prod/job/s.json: Brand is set once for the environment in environments/prod/settings.json; "
        "remove it here"
    ]


def test_settings_must_name_their_own_environment(stack: Stack) -> None:
    _settings(stack, {"Brand": "acme", "Environment": "staging"})
    _params(stack, {})
    problems = ParameterCheck(stack, "prod", read_parameter_file(stack.parameter_file("prod"))).problems()
    assert problems == ["environments/prod/settings.json: Environment is 'staging', not 'prod'"]
