"""Alert routing of the monitoring stack: e-mail, a Slack channel through AWS Chatbot, an HTTPS endpoint.

Each route exists only when its parameters are set (the shipped files set none); set, it is wired to the
alerts topic with the right protocol and ARNs, and the Chatbot channel can only read CloudWatch. The
templates are resolved for a deployment (``iam_fixtures``) with the routes off as shipped and on
(``iam_fixtures.OPTIONAL_FEATURES``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

from platformctl import lint
from platformctl.iam.evaluation import Request, evaluate
from platformctl.iam.template_policies import TemplateResolver
from platformctl.manifest import REPO_ROOT, load_manifest
from platformctl.templates import load_template
from tests.templates import iam_fixtures as iam

KEY = "monitoring/monitoring"
TEMPLATE = REPO_ROOT / "infrastructure" / "monitoring" / "monitoring.yaml"
ROUTES = ("AlertSlackWorkspaceId", "AlertSlackChannelId", "AlertHttpsEndpoint")
SLACK = ("AlertsChatbotRole", "AlertsSlackChannel")
HTTPS = ("AlertHttpsSubscription",)
READ_ONLY_GUARDRAIL = "arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"


def _off(environment: str) -> TemplateResolver:
    return iam.resolvers(environment)[KEY]


def _on() -> TemplateResolver:
    return iam.optional_resolvers()[KEY]


def _topic_arn(resolver: TemplateResolver) -> str:
    return iam.output(resolver, "AlertsTopicArn")


def _file_values(environment: str) -> dict[str, str]:
    path = REPO_ROOT / "ci" / "environments" / environment / "monitoring" / "monitoring.json"
    return {p["ParameterKey"]: p["ParameterValue"] for p in json.loads(path.read_text(encoding="utf-8"))}


# ------------------------------------------------------------------------------------- conditions


@pytest.mark.parametrize("environment", ["local", "staging", "prod"])
def test_the_shipped_environments_route_to_nothing_but_e_mail(environment: str) -> None:
    values = _file_values(environment)
    assert {name: values[name] for name in ROUTES} == dict.fromkeys(ROUTES, ""), "empty means not routed"
    resolver = _off(environment)
    assert [name for name in (*SLACK, *HTTPS) if resolver.exists(name)] == []
    assert resolver.exists("AlertsTopic")
    assert not resolver.condition(resolver.template["Outputs"]["AlertsSlackChannelConfigurationArn"]["Condition"])


def test_the_routes_are_created_only_by_their_own_parameters() -> None:
    template = load_template(TEMPLATE)
    conditions = {name: body.get("Condition") for name, body in template["Resources"].items()}
    assert {name: conditions[name] for name in (*SLACK, *HTTPS, "AlertEmailSubscription")} == {
        "AlertsChatbotRole": "HasSlackChannel",
        "AlertsSlackChannel": "HasSlackChannel",
        "AlertHttpsSubscription": "HasHttpsEndpoint",
        "AlertEmailSubscription": "HasAlertEmail",
    }
    base = _off("prod")
    on = iam.OPTIONAL_FEATURES[KEY]
    slack_only = TemplateResolver(
        base.template,
        {
            **base.parameters,
            "AlertSlackWorkspaceId": on["AlertSlackWorkspaceId"],
            "AlertSlackChannelId": on["AlertSlackChannelId"],
        },
        base.deployment,
    )
    https_only = TemplateResolver(
        base.template, {**base.parameters, "AlertHttpsEndpoint": on["AlertHttpsEndpoint"]}, base.deployment
    )
    assert [n for n in (*SLACK, *HTTPS) if slack_only.exists(n)] == list(SLACK)
    assert [n for n in (*SLACK, *HTTPS) if https_only.exists(n)] == list(HTTPS)


def _rule_holds(workspace: str, channel: str) -> bool:
    """The template's Rules assertion, evaluated like a condition with these two values."""
    template = load_template(TEMPLATE)
    (assertion,) = template["Rules"]["SlackNeedsWorkspaceAndChannel"]["Assertions"]
    probe = {**template, "Conditions": {"Probe": assertion["Assert"]}}
    values = {"AlertSlackWorkspaceId": workspace, "AlertSlackChannelId": channel}
    return TemplateResolver(probe, values).condition("Probe")


def test_slack_needs_the_workspace_and_the_channel_together() -> None:
    assert _rule_holds("", "")
    assert _rule_holds("T0123ABCD", "C0123ABCD")
    assert not _rule_holds("T0123ABCD", "")
    assert not _rule_holds("", "C0123ABCD")


def _accepts(parameter: str, value: str) -> bool:
    spec = load_template(TEMPLATE)["Parameters"][parameter]
    return re.fullmatch(spec["AllowedPattern"], value) is not None and len(value) <= spec.get("MaxLength", 10**6)


def test_the_parameters_take_what_slack_pagerduty_and_opsgenie_give_and_nothing_else() -> None:
    assert _accepts("AlertSlackWorkspaceId", "T0123ABCD")
    assert not _accepts("AlertSlackWorkspaceId", "t0123abcd")
    assert _accepts("AlertSlackChannelId", "C0123ABCD")
    assert not _accepts("AlertSlackChannelId", "#alerts")
    for url in (
        "https://events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue",
        "https://api.opsgenie.com/v1/json/cloudwatch?apiKey=01234567-89ab-cdef-0123-456789abcdef",
        "https://api.eu.opsgenie.com/v1/json/cloudwatch?apiKey=01234567-89ab-cdef-0123-456789abcdef",
    ):
        assert _accepts("AlertHttpsEndpoint", url), url
    for url in ("http://events.pagerduty.com/integration/x/enqueue", "https://", "ftp://x", "https://a b/"):
        assert not _accepts("AlertHttpsEndpoint", url), url
    for name in ROUTES:
        assert _accepts(name, ""), f"{name}: empty means not routed"
    assert load_template(TEMPLATE)["Parameters"]["AlertHttpsEndpoint"]["NoEcho"] is True  # it carries a key


# ------------------------------------------------------------------------------------------ slack


def test_the_slack_channel_posts_the_alerts_topic_through_its_own_role() -> None:
    resolver = _on()
    channel = resolver.properties("AlertsSlackChannel")
    assert channel["SnsTopicArns"] == [_topic_arn(resolver)]
    assert channel["IamRoleArn"] == resolver.get_att("AlertsChatbotRole", "Arn")
    assert channel["IamRoleArn"] == f"arn:aws:iam::{iam.ACCOUNT}:role/{iam.brand()}-prod-alerts-chatbot"
    assert (channel["SlackWorkspaceId"], channel["SlackChannelId"]) == ("T0123ABCD", "C0123ABCD")
    assert channel["ConfigurationName"] == f"{iam.brand()}-prod-alerts"
    assert channel["GuardrailPolicies"] == [READ_ONLY_GUARDRAIL]
    assert channel["UserRoleRequired"] is False


def test_the_chatbot_role_is_trusted_by_chatbot_only_and_carries_the_boundary() -> None:
    resolver = _on()
    role = resolver.properties("AlertsChatbotRole")
    assert role["PermissionsBoundary"] == iam.boundary_arn()
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Service": "chatbot.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }


def _role_actions(resolver: TemplateResolver) -> list[tuple[str, str]]:
    pairs = []
    for document in resolver.policy_documents("AlertsChatbotRole").values():
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            pairs += [(str(a), str(r)) for a in actions for r in resources]
    return pairs


def test_the_chatbot_role_only_reads_cloudwatch_and_the_boundary_lets_it() -> None:
    resolver = _on()
    pairs = _role_actions(resolver)
    assert pairs, "the role has no policy"
    assert all(re.fullmatch(r"cloudwatch:(Describe|Get|List)\w+", action) for action, _ in pairs), pairs
    for action, resource in pairs:
        decision = evaluate(
            Request(action=action, resource=resource, context={}),
            identity_policies=[
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ],
            boundary=iam.boundary_document(),
        )
        assert decision.allowed, f"the boundary cuts {action} on {resource}"
    alarms = {resource for action, resource in pairs if action.startswith("cloudwatch:Describe")}
    assert alarms == {f"arn:aws:cloudwatch:{iam.REGION}:{iam.ACCOUNT}:alarm:{iam.brand()}-*"}


def test_the_boundary_still_keeps_the_channel_role_out_of_the_data() -> None:
    """What the boundary gained for the channel role is CloudWatch reads, not the lake or the tables."""
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    for action in ("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:SetAlarmState"):
        arn = f"arn:aws:cloudwatch:{iam.REGION}:{iam.ACCOUNT}:alarm:{iam.brand()}-prod-x"
        decision = evaluate(Request(action, arn, {}), identity_policies=[allow_all], boundary=iam.boundary_document())
        assert not decision.allowed, action


# ------------------------------------------------------------------------------------------ https


def test_the_https_endpoint_is_subscribed_with_the_sns_envelope() -> None:
    resolver = _on()
    subscription = resolver.properties("AlertHttpsSubscription")
    assert subscription["TopicArn"] == _topic_arn(resolver)
    assert subscription["Protocol"] == "https"
    assert subscription["Endpoint"] == iam.OPTIONAL_FEATURES[KEY]["AlertHttpsEndpoint"]
    assert subscription["RawMessageDelivery"] is False  # PagerDuty and Opsgenie read Subject and Message


def _retry_seconds(policy: dict[str, Any]) -> float:
    """The delays of an SNS HTTP/S healthy retry policy: immediate, pre-backoff at the minimum delay,
    backoff from the minimum to the maximum (exponential: geometric steps), post-backoff at the maximum."""
    low, high = float(policy["minDelayTarget"]), float(policy["maxDelayTarget"])
    pre, post = int(policy["numMinDelayRetries"]), int(policy["numMaxDelayRetries"])
    backoff = int(policy["numRetries"]) - int(policy["numNoDelayRetries"]) - pre - post
    assert backoff >= 0, "the phases add up to more than numRetries"
    ratio: float = (high / low) ** (1 / max(backoff, 1))
    steps: float = sum(low * ratio**k for k in range(1, backoff + 1))
    return pre * low + steps + post * high


def test_a_page_is_retried_for_most_of_an_hour_within_snss_cap() -> None:
    policy = _on().properties("AlertHttpsSubscription")["DeliveryPolicy"]["healthyRetryPolicy"]
    assert policy["backoffFunction"] == "exponential"
    assert 1 <= policy["minDelayTarget"] <= policy["maxDelayTarget"] <= 3600
    assert policy["numRetries"] <= 100
    seconds = _retry_seconds(policy)
    assert 30 * 60 <= seconds <= 3600, f"{seconds:.0f} s: SNS refuses more than 3,600 s, and less would lose pages"
    assert math.isclose(seconds, 50 * 60, rel_tol=0.1), "the template's comment says about 50 minutes"


# ------------------------------------------------------------------------------------------- lint


@pytest.mark.slow
def test_cfn_lint_is_clean_with_every_route_on() -> None:
    (stack,) = load_manifest().select("monitoring", "monitoring")
    values = lint.deployment_values(stack, "prod")
    on = dict(values, AlertEmail="oncall@example.com", **iam.OPTIONAL_FEATURES[KEY])
    code, output = lint.cfn_lint([(stack.template_path, values), (stack.template_path, on)])
    assert code == 0, output
