"""What IAM enforcement reads from the emulator's own state: who signed a request, a role's policies,
the resource policy of a resource, and the ARNs behind names (a secret's ARN, a key's ARN by alias).

Read in-process from moto's backends (the enforcement runs inside the emulator's request handling), never
through the API, so reading them is not itself a request to authorize.
"""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass
from typing import Any

PARTITION = "aws"
LOCAL_ACCOUNT = "123456789012"  # moto's default account, the local cloud's only one


@dataclass(frozen=True)
class Session:
    """An assumed-role session: the credentials STS handed out and the role they act for."""

    access_key_id: str
    account: str
    role_arn: str
    session_arn: str
    session_token: str


@dataclass(frozen=True)
class RolePolicies:
    role_arn: str
    identity: dict[str, Any]  # policy name (inline) or ARN (managed) -> document
    boundary: Any | None


def session_for(access_key_id: str) -> Session | None:
    """The assumed-role session an access key belongs to; None for any other key (the operator's)."""
    from moto.sts.models import sts_backends

    for account in list(sts_backends.keys()):
        for assumed in sts_backends[account][PARTITION].assumed_roles:
            if assumed.access_key_id == access_key_id:
                return Session(access_key_id, account, assumed.role_arn, assumed.arn, assumed.session_token)
    return None


def assume_role(role_arn: str, session_name: str, duration: int = 43200) -> Session:
    """Credentials for a role, as Lambda (or any service) gets them from STS for the role it runs as."""
    from moto.sts.models import sts_backends

    account = role_arn.split(":")[4]
    assumed = sts_backends[account][PARTITION].assume_role(
        region_name="us-east-1",
        role_session_name=session_name,
        role_arn=role_arn,
        policy="",
        duration=duration,
        external_id="",
    )
    return Session(assumed.access_key_id, account, role_arn, assumed.arn, assumed.session_token)


def secret_access_key(session: Session) -> str:
    from moto.sts.models import sts_backends

    for assumed in sts_backends[session.account][PARTITION].assumed_roles:
        if assumed.access_key_id == session.access_key_id:
            return str(assumed.secret_access_key)
    raise LookupError(session.access_key_id)


def _iam(account: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account][PARTITION]


def _role(account: str, role_arn: str) -> Any:
    backend = _iam(account)
    name = role_arn.rsplit("/", 1)[-1]
    return backend.get_role(name)


def role_policies(account: str, role_arn: str) -> RolePolicies:
    """The role's inline and attached managed policies and its permissions boundary, as deployed now."""
    role = _role(account, role_arn)
    identity: dict[str, Any] = dict(role.policies)
    for arn, managed in role.managed_policies.items():
        identity[arn] = _default_document(managed)
    boundary = None
    if role.permissions_boundary_arn:
        boundary = _default_document(_iam(account).get_policy(role.permissions_boundary_arn))
    return RolePolicies(role.arn, identity, boundary)


def _default_document(policy: Any) -> Any:
    return next(v.document for v in policy.versions if v.version_id == policy.default_version_id)


def role_arns(account: str = LOCAL_ACCOUNT) -> dict[str, str]:
    """Every role of the account: name -> ARN."""
    return {role.name: role.arn for role in _iam(account).get_roles()}


def trust_policy(account: str, role_arn: str) -> Any:
    return _role(account, role_arn).assume_role_policy_document


class Lookup:
    """Names to ARNs and resource policies over moto's backends (``platformctl.iam.actions.Lookup``)."""

    def __init__(self, account: str) -> None:
        self.account = account

    def secret_arn(self, region: str, secret_id: str) -> str:
        from moto.secretsmanager.models import secretsmanager_backends

        secrets = secretsmanager_backends[self.account][region].secrets
        with contextlib.suppress(Exception):
            if secret_id in secrets:
                return str(secrets[secret_id].arn)
        return (
            secret_id
            if secret_id.startswith("arn:")
            else f"arn:aws:secretsmanager:{region}:{self.account}:secret:{secret_id}"
        )

    def key_arn(self, region: str, key_id: str) -> str:
        from moto.kms.models import kms_backends

        backend = kms_backends[self.account][region]
        with contextlib.suppress(Exception):
            return str(backend.describe_key(key_id).arn)
        return key_id if key_id.startswith("arn:") else f"arn:aws:kms:{region}:{self.account}:{key_id}"

    def ciphertext_key_arn(self, region: str, blob: str) -> str:
        from moto.kms.utils import _deserialize_ciphertext_blob

        with contextlib.suppress(Exception):
            return self.key_arn(region, _deserialize_ciphertext_blob(base64.b64decode(blob)).key_id)
        return "*"

    def stack_arn(self, region: str, stack: str) -> str:
        if stack.startswith("arn:"):
            return stack
        from moto.cloudformation.models import cloudformation_backends

        backend = cloudformation_backends[self.account][region]
        for candidate in list(backend.stacks.values()):
            if candidate.name == stack and candidate.status != "DELETE_COMPLETE":
                return str(candidate.stack_id)
        return f"arn:aws:cloudformation:{region}:{self.account}:stack/{stack}/new"

    def function_arn(self, region: str, name: str) -> str:
        if name.startswith("arn:"):
            return ":".join(name.split(":")[:7])
        return f"arn:aws:lambda:{region}:{self.account}:function:{name.split(':', maxsplit=1)[0]}"

    def resource_policy(self, region: str, action: str, resource: str) -> Any | None:
        """The policy attached to the resource, for services that have resource policies."""
        service = action.split(":", 1)[0].lower()
        reader = getattr(self, f"_{service}_policy", None)
        if reader is None or resource == "*":
            return None
        with contextlib.suppress(Exception):
            policy = reader(region, resource)
            return json.loads(policy) if isinstance(policy, str | bytes) else policy
        return None

    def _s3_policy(self, region: str, resource: str) -> Any:
        from moto.s3.models import s3_backends

        bucket = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
        return s3_backends[self.account][PARTITION].buckets[bucket].policy

    def _sqs_policy(self, region: str, resource: str) -> Any:
        from moto.sqs.models import sqs_backends

        name = resource.rsplit(":", 1)[-1]
        return sqs_backends[self.account][resource.split(":")[3]].queues[name].policy

    def _sns_policy(self, region: str, resource: str) -> Any:
        from moto.sns.models import sns_backends

        return sns_backends[self.account][resource.split(":")[3]].topics[resource].policy

    def _kms_policy(self, region: str, resource: str) -> Any:
        from moto.kms.models import kms_backends

        return kms_backends[self.account][resource.split(":")[3]].describe_key(resource).policy

    def _lambda_policy(self, region: str, resource: str) -> Any:
        from moto.awslambda.models import lambda_backends

        wire = json.loads(lambda_backends[self.account][resource.split(":")[3]].get_policy(resource))
        return wire["Policy"]

    def _secretsmanager_policy(self, region: str, resource: str) -> Any:
        from moto.secretsmanager.models import secretsmanager_backends

        return getattr(secretsmanager_backends[self.account][resource.split(":")[3]].secrets[resource], "policy", None)

    def _sts_policy(self, region: str, resource: str) -> Any:
        return trust_policy(self.account, resource)
