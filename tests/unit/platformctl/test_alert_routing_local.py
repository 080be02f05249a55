"""The alert routes on the local cloud: the HTTPS subscription is created as the template asks, the Slack
channel (AWS Chatbot, not emulated) fails the deploy in one line instead of being skipped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from platformctl.localcloud import providers
from platformctl.localcloud.providers import Context, SnsSubscription
from platformctl.manifest import REPO_ROOT
from platformctl.templates import load_template

REGION = "us-east-1"
CONTEXT = Context("Route", "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1", "s-Route-X", REGION)
TEMPLATE = REPO_ROOT / "infrastructure" / "monitoring" / "monitoring.yaml"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws():
        monkeypatch.setattr(providers, "client", lambda service, region: boto3.client(service, region_name=region))
        yield


def _template_properties(logical_id: str) -> dict[str, Any]:
    return dict(load_template(TEMPLATE)["Resources"][logical_id]["Properties"])


def test_the_https_subscription_keeps_the_envelope_and_its_delivery_policy(aws: None) -> None:
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="acme-data-platform-alerts")["TopicArn"]
    declared = _template_properties("AlertHttpsSubscription")
    endpoint = "https://events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue"
    properties = dict(declared, TopicArn=topic, Endpoint=endpoint)

    arn, attributes = SnsSubscription.create(CONTEXT, properties)

    assert attributes == {"Arn": arn}
    got = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert (got["Protocol"], got["Endpoint"], got["TopicArn"]) == ("https", endpoint, topic)
    assert got["RawMessageDelivery"] == "false"
    assert json.loads(got["DeliveryPolicy"]) == declared["DeliveryPolicy"]


def test_a_slack_channel_set_locally_fails_the_deploy_naming_the_parameter() -> None:
    provider = providers.REGISTRY["AWS::Chatbot::SlackChannelConfiguration"]
    assert set(_template_properties("AlertsSlackChannel")) <= provider.PROPERTIES
    with pytest.raises(providers.NotEmulatedError, match=r"AlertSlackWorkspaceId.*empty in the local environment"):
        provider.create(CONTEXT, {})
