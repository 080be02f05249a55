"""Every stack of the manifest resolved for one deployment, for the IAM tests.

Each stack's template is resolved with its environment's parameter values and, for what the manifest feeds,
the outputs of the stacks before it resolved the same way - so a policy that names the alerts topic names
the topic the monitoring stack really creates, in account ``ACCOUNT`` and region ``REGION``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from platformctl.iam.template_policies import Deployment, TemplateResolver
from platformctl.manifest import Manifest, Stack, load_manifest
from platformctl.params import check_parameters
from platformctl.templates import load_template

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
REGION = "us-east-1"
ENVIRONMENT = "prod"
GITHUB = {"GitHubOrg": "octo-org", "GitHubRepo": "octo-repo"}
OIDC_STACK = "shared/github-oidc"  # the OIDC provider and the CI roles
EXECUTION_STACK = "shared/cfn-execution"  # the execution role and the permissions boundary
BOOTSTRAP_STACKS = (EXECUTION_STACK, OIDC_STACK)
ISSUER = "token.actions.githubusercontent.com"


@cache
def manifest() -> Manifest:
    return load_manifest()


@cache
def resolvers(environment: str = ENVIRONMENT) -> dict[str, TemplateResolver]:
    """Stack key -> its resolver, in deploy order."""
    found: dict[str, TemplateResolver] = {}
    for stack in manifest().stacks:
        values = dict(check_parameters(stack, environment).values)
        if stack.key == OIDC_STACK:
            values.update(GITHUB)
        for parameter, source in stack.inputs.items():
            producer = found[f"{source.job}/{source.stack}"]
            values[parameter] = output(producer, source.output)
        brand = values.get("Brand", "")
        for parameter, image in stack.images.items():
            values[parameter] = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{brand}/{image}:test"
        deployment = Deployment(account_id=ACCOUNT, region=REGION, stack_name=stack.stack_name(brand, environment))
        found[stack.key] = TemplateResolver(load_template(stack.template_path), values, deployment)
    return found


# Optional features the shipped parameter files leave off, turned on so that the IAM tests see the
# resources they create too: stack key -> the parameter values that turn them on.
OPTIONAL_FEATURES: dict[str, dict[str, str]] = {
    "shared/glue-catalog": {"ManageDataCatalogEncryption": "true"},
    "monitoring/monitoring": {
        "AlertSlackWorkspaceId": "T0123ABCD",
        "AlertSlackChannelId": "C0123ABCD",
        "AlertHttpsEndpoint": "https://events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue",
    },
}


@cache
def optional_resolvers(environment: str = ENVIRONMENT) -> dict[str, TemplateResolver]:
    """Stack key -> its resolver with OPTIONAL_FEATURES on (the same deployment as ``resolvers``)."""
    found = {}
    for key, overrides in OPTIONAL_FEATURES.items():
        base = resolvers(environment)[key]
        found[key] = TemplateResolver(base.template, {**base.parameters, **overrides}, base.deployment)
    return found


def stack(key: str) -> Stack:
    return next(s for s in manifest().stacks if s.key == key)


def output(resolver: TemplateResolver, name: str) -> str:
    return resolver.text(resolver.template["Outputs"][name]["Value"])


def oidc() -> TemplateResolver:
    return resolvers()[OIDC_STACK]


def brand() -> str:
    return oidc().ref("Brand")


def execution() -> TemplateResolver:
    return resolvers()[EXECUTION_STACK]


def boundary_arn() -> str:
    return output(execution(), "PermissionsBoundaryArn")


def boundary_document() -> dict[str, Any]:
    document = execution().properties("PermissionsBoundary")["PolicyDocument"]
    return dict(document)


def _bootstrap_stack_of(logical_id: str) -> str:
    """The bootstrap stack that defines a resource (the CI roles, the execution role)."""
    for key in BOOTSTRAP_STACKS:
        if logical_id in resolvers()[key].template["Resources"]:
            return key
    raise KeyError(f"no bootstrap stack defines {logical_id}")


def role_policies(logical_id: str, key: str | None = None) -> dict[str, dict[str, Any]]:
    return resolvers()[key or _bootstrap_stack_of(logical_id)].policy_documents(logical_id)


def trust_policy(logical_id: str, key: str | None = None) -> dict[str, Any]:
    return dict(resolvers()[key or _bootstrap_stack_of(logical_id)].properties(logical_id)["AssumeRolePolicyDocument"])


def role_arn(logical_id: str, key: str | None = None) -> str:
    return resolvers()[key or _bootstrap_stack_of(logical_id)].get_att(logical_id, "Arn")
