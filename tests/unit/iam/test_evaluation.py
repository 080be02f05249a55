"""The policy evaluation logic, checked against the examples of AWS's IAM documentation.

Pages cited by short name below live under https://docs.aws.amazon.com/IAM/latest/UserGuide/.
"""

from __future__ import annotations

from typing import Any

import pytest

from platformctl.iam.evaluation import Decision, PolicyError, Request, evaluate

ACCOUNT = "111122223333"
CARLOS = f"arn:aws:iam::{ACCOUNT}:user/carlossalazar"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/app-role/session-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/app-role"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def ask(action: str, resource: str, principal: str = SESSION, **context: Any) -> Request:
    return Request(action=action, resource=resource, context=context, principal=principal)


# The example of "Example identity-based and resource-based policy evaluation".
CARLOS_POLICY = policy(
    {
        "Sid": "AllowS3ListRead",
        "Effect": "Allow",
        "Action": ["s3:GetBucketLocation", "s3:GetObjectVersion", "s3:ListAllMyBuckets"],
        "Resource": "arn:aws:s3:::*",
    },
    {
        "Sid": "AllowS3Self",
        "Effect": "Allow",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"],
    },
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"},
)
CARLOS_BUCKET_POLICY = policy(
    {
        "Sid": "AllowCarlos",
        "Effect": "Allow",
        "Principal": {"AWS": CARLOS},
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::carlossalazar-logs/*", "arn:aws:s3:::carlossalazar-logs"],
    }
)


def test_identity_policy_allows_own_bucket() -> None:
    """Carlos may do anything in carlossalazar: AllowS3Self
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html)."""
    decision = evaluate(ask("s3:PutObject", "arn:aws:s3:::carlossalazar/a.txt", CARLOS), [CARLOS_POLICY])
    assert decision.allowed
    assert "AllowS3Self" in decision.reason


def test_explicit_deny_beats_the_bucket_policy_allow() -> None:
    """The bucket policy of carlossalazar-logs allows Carlos, but DenyS3Logs explicitly denies *log*
    buckets, and an explicit deny in any policy wins (reference_policies_evaluation-logic.html)."""
    decision = evaluate(
        ask("s3:GetObject", "arn:aws:s3:::carlossalazar-logs/x", CARLOS),
        [CARLOS_POLICY],
        resource_policy=CARLOS_BUCKET_POLICY,
    )
    assert not decision.allowed
    assert decision.reason == "explicit deny in statement 'DenyS3Logs' of identity policy"


def test_implicit_deny() -> None:
    """Without an Allow the request is implicitly denied (reference_policies_evaluation-logic.html)."""
    decision = evaluate(ask("s3:DeleteBucket", "arn:aws:s3:::other", CARLOS), [CARLOS_POLICY])
    assert decision == Decision(False, "no statement allows s3:DeleteBucket on arn:aws:s3:::other")
    assert not evaluate(ask("s3:GetObject", "arn:aws:s3:::b/k"))


def test_same_account_resource_policy_alone_allows_a_user() -> None:
    """Within one account, an Allow in either the identity or the resource policy suffices; a bucket policy
    naming the user grants on its own (reference_policies_evaluation-logic.html, "Evaluating identity-based
    and resource-based policies together")."""
    bucket_policy = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": [CARLOS]},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::shared/*",
        }
    )
    request = ask("s3:GetObject", "arn:aws:s3:::shared/k", CARLOS)
    assert evaluate(request, [], resource_policy=bucket_policy).allowed
    assert not evaluate(request, []).allowed


def test_resource_policy_deny_applies() -> None:
    """A Deny in a resource policy denies even when the identity policy allows
    (reference_policies_evaluation-logic.html). The deny-insecure-transport bucket policy of
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html."""
    bucket_policy = policy(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::lake", "arn:aws:s3:::lake/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    identity = [policy(allow("s3:GetObject", "arn:aws:s3:::lake/*"))]
    insecure = ask("s3:GetObject", "arn:aws:s3:::lake/k", **{"aws:SecureTransport": False})
    secure = ask("s3:GetObject", "arn:aws:s3:::lake/k", **{"aws:SecureTransport": True})
    assert evaluate(insecure, identity, resource_policy=bucket_policy).reason.startswith(
        "explicit deny in statement 'DenyInsecureTransport' of the resource policy"
    )
    assert evaluate(secure, identity, resource_policy=bucket_policy).allowed


def test_resource_policy_for_another_principal_does_not_apply() -> None:
    """A resource policy statement applies only to the principals it names
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html)."""
    bucket_policy = policy(
        {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/mary"}, "Action": "s3:*", "Resource": "*"}
    )
    assert (
        evaluate(ask("s3:GetObject", "arn:aws:s3:::b/k", CARLOS), [CARLOS_POLICY], resource_policy=bucket_policy)
        is not None
    )
    assert evaluate(
        ask("s3:GetObject", "arn:aws:s3:::carlossalazar/k", CARLOS), [CARLOS_POLICY], resource_policy=bucket_policy
    ).allowed


BOUNDARY = policy(allow(["s3:*", "cloudwatch:*", "ec2:*"]))


def test_boundary_limits_identity_policy() -> None:
    """ShirleyRodriguez's boundary allows only S3, CloudWatch and EC2, so her identity policy's
    iam:CreateUser is not allowed (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html)."""
    identity = [policy(allow("iam:CreateUser"), allow("s3:*"))]
    create = evaluate(ask("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x"), identity, boundary=BOUNDARY)
    assert not create.allowed
    assert create.reason.startswith("the permissions boundary does not allow iam:CreateUser")
    assert evaluate(ask("s3:ListBucket", "arn:aws:s3:::b"), identity, boundary=BOUNDARY).allowed


def test_boundary_alone_grants_nothing() -> None:
    """A permissions boundary does not grant permissions on its own (access_policies_boundaries.html)."""
    assert not evaluate(ask("s3:ListBucket", "arn:aws:s3:::b"), [], boundary=BOUNDARY).allowed


def test_explicit_deny_in_boundary() -> None:
    """An explicit deny in a boundary denies (access_policies_boundaries.html, evaluation figure)."""
    boundary = policy(allow("*"), {"Sid": "NoIam", **deny("iam:*")})
    decision = evaluate(ask("iam:PassRole", ROLE), [policy(allow("iam:PassRole"))], boundary=boundary)
    assert decision.reason == "explicit deny in statement 'NoIam' of the permissions boundary"


def test_resource_policy_naming_the_session_is_not_limited_by_the_boundary() -> None:
    """Resource policies that grant to a role session ARN are not limited by an implicit deny in the
    boundary; those that grant to the role ARN are (access_policies_boundaries.html, "Resource-based policies")."""
    to_session = policy(
        {"Effect": "Allow", "Principal": {"AWS": SESSION}, "Action": "sqs:SendMessage", "Resource": "*"}
    )
    to_role = policy({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "sqs:SendMessage", "Resource": "*"})
    request = ask("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:q")
    narrow = policy(allow("s3:*"))
    assert evaluate(request, [], boundary=narrow, resource_policy=to_session).allowed
    assert not evaluate(request, [], boundary=narrow, resource_policy=to_role).allowed
    assert evaluate(request, [], boundary=policy(allow("sqs:*")), resource_policy=to_role).allowed
    assert evaluate(request, [], resource_policy=to_role).allowed


def test_account_principal_delegates_to_identity_policies() -> None:
    """The default key policy's "Enable IAM User Permissions" (Principal the account root) lets IAM
    policies decide; a key policy must allow for any KMS access
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html)."""
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    default_policy = policy(
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    request = ask("kms:Decrypt", key)
    assert not evaluate(request, [], resource_policy=default_policy).allowed
    assert evaluate(request, [policy(allow("kms:Decrypt", key))], resource_policy=default_policy).allowed
    locked = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    decision = evaluate(request, [policy(allow("kms:*"))], resource_policy=locked)
    assert not decision.allowed
    assert "identity policies cannot grant it" in decision.reason


def test_key_policy_via_service_condition() -> None:
    """A key policy allowing every principal of the account through one service (kms:ViaService and
    kms:CallerAccount, https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service)."""
    key_policy = policy(
        {
            "Sid": "ViaS3",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com", "kms:CallerAccount": ACCOUNT}
            },
        }
    )
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k"
    via_s3 = ask(
        "kms:GenerateDataKey", key, **{"kms:ViaService": "s3.us-east-1.amazonaws.com", "kms:CallerAccount": ACCOUNT}
    )
    direct = ask("kms:GenerateDataKey", key, **{"kms:CallerAccount": ACCOUNT})
    assert evaluate(via_s3, [], resource_policy=key_policy).allowed
    assert not evaluate(direct, [], resource_policy=key_policy).allowed


def test_service_principal_in_a_topic_policy() -> None:
    """An SNS topic policy letting EventBridge publish from the account's rules (aws:SourceAccount)
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions)."""
    topic_policy = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    )
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"
    assert evaluate(
        ask("sns:Publish", topic, "events.amazonaws.com", **{"aws:SourceAccount": ACCOUNT}),
        resource_policy=topic_policy,
    )
    assert not evaluate(
        ask("sns:Publish", topic, "events.amazonaws.com", **{"aws:SourceAccount": "999988887777"}),
        resource_policy=topic_policy,
    )
    assert not evaluate(ask("sns:Publish", topic), resource_policy=topic_policy)


def test_not_action_allow() -> None:
    """Allow NotAction iam:* on * allows everything except IAM
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html)."""
    identity = [policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})]
    assert evaluate(ask("s3:GetObject", "arn:aws:s3:::b/k"), identity).allowed
    assert not evaluate(ask("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/u"), identity).allowed


def test_not_action_deny_without_mfa() -> None:
    """Deny everything but the listed IAM actions when MFA is absent (BoolIfExists aws:MultiFactorAuthPresent
    false), reference_policies_elements_notaction.html."""
    identity = [
        policy(
            allow("*"),
            {
                "Sid": "DenyAllUsersNotUsingMFA",
                "Effect": "Deny",
                "NotAction": "iam:*",
                "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
            },
        )
    ]
    assert not evaluate(ask("s3:GetObject", "arn:aws:s3:::b/k"), identity).allowed
    assert evaluate(ask("s3:GetObject", "arn:aws:s3:::b/k", **{"aws:MultiFactorAuthPresent": True}), identity).allowed
    assert evaluate(ask("iam:ListUsers", "*"), identity).allowed


def test_not_resource_deny() -> None:
    """Deny s3:* on NotResource [HRBucket/Payroll, HRBucket/Payroll/*]: every other resource is denied
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html)."""
    identity = [
        policy(
            allow("s3:*"),
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"],
            },
        )
    ]
    assert evaluate(ask("s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/2024.csv"), identity).allowed
    assert not evaluate(ask("s3:GetObject", "arn:aws:s3:::HRBucket/Other/x"), identity).allowed


def test_not_principal_deny() -> None:
    """Deny with NotPrincipal: everyone but the listed principals is denied; a role session escapes only
    when its session ARN is listed (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html)."""
    bucket = policy(
        {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": [ROLE, SESSION, f"arn:aws:iam::{ACCOUNT}:root"]},
            "Action": "s3:*",
            "Resource": "*",
        }
    )
    role_only = policy({"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE]}, "Action": "s3:*", "Resource": "*"})
    identity = [policy(allow("s3:*"))]
    request = ask("s3:GetObject", "arn:aws:s3:::b/k")
    assert evaluate(request, identity, resource_policy=bucket).allowed
    assert not evaluate(request, identity, resource_policy=role_only).allowed
    assert not evaluate(ask("s3:GetObject", "arn:aws:s3:::b/k", CARLOS), identity, resource_policy=bucket).allowed


def test_policy_variable_in_resource() -> None:
    """arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/* gives each user a home folder
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html); in a 2008-10-17
    policy the variable is literal text."""
    statement = allow("s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*")
    own = ask("s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/home/carlos/a", CARLOS, **{"aws:username": "carlos"})
    other = ask("s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/home/maria/a", CARLOS, **{"aws:username": "carlos"})
    assert evaluate(own, [policy(statement)]).allowed
    assert not evaluate(other, [policy(statement)]).allowed
    assert not evaluate(own, [{"Version": "2008-10-17", "Statement": [statement]}]).allowed


def test_trust_policy_must_allow_assume_role() -> None:
    """A role can be assumed only when its trust policy allows the caller
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html, "Trust policy")."""
    oidc = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Federated": oidc},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/platform:ref:refs/heads/main"},
            },
        }
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/deploy"
    good = {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:acme/platform:ref:refs/heads/main",
    }
    assert evaluate(Request("sts:AssumeRoleWithWebIdentity", role, good, oidc), resource_policy=trust).allowed
    fork = {**good, "token.actions.githubusercontent.com:sub": "repo:evil/platform:ref:refs/heads/main"}
    assert not evaluate(Request("sts:AssumeRoleWithWebIdentity", role, fork, oidc), resource_policy=trust).allowed
    account_trust = policy({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"})
    assert not evaluate(ask("sts:AssumeRole", role, CARLOS), [], resource_policy=account_trust).allowed
    assert evaluate(
        ask("sts:AssumeRole", role, CARLOS), [policy(allow("sts:AssumeRole", role))], resource_policy=account_trust
    ).allowed


def test_named_policies_and_text_documents() -> None:
    """Policies may be given by name (the name appears in the reason) and as JSON text, as IAM returns them."""
    decision = evaluate(
        ask("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q"),
        {
            "QueueWrite": '{"Version": "2012-10-17", "Statement": '
            '{"Effect": "Deny", "Action": "sqs:*", "Resource": "*"}}'
        },
    )
    assert decision.reason == "explicit deny in statement #0 of identity policy 'QueueWrite'"


@pytest.mark.parametrize(
    "bad",
    [
        {"Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Resource": "*"}]},
        {"Statement": ["not a statement"]},
    ],
)
def test_unreadable_policies_fail_loudly(bad: dict[str, Any]) -> None:
    """A policy the evaluator cannot read raises instead of deciding (IAM rejects such policies:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html)."""
    with pytest.raises(PolicyError):
        evaluate(ask("s3:GetObject", "arn:aws:s3:::b/k"), [bad])
