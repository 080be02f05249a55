"""Action and resource matching as IAM's policy element reference describes it.

Pages cited by short name below live under https://docs.aws.amazon.com/IAM/latest/UserGuide/.
"""

from __future__ import annotations

import pytest

from platformctl.iam.patterns import action_matches, arn_matches, string_like, substitute


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("ec2:StartInstances", "ec2:StartInstances", True),
        ("ec2:StartInstances", "EC2:startinstances", True),
        ("s3:*", "s3:GetObject", True),
        ("iam:*AccessKey*", "iam:CreateAccessKey", True),
        ("iam:*AccessKey*", "iam:ListAccessKeys", True),
        ("iam:*AccessKey*", "iam:CreateUser", False),
        ("s3:Get*", "s3:PutObject", False),
        ("s3:Get?bject", "s3:GetObject", True),
        ("*", "kms:Decrypt", True),
        ("sqs:SendMessage", "sqs:SendMessageBatch", False),
    ],
)
def test_action_wildcards_and_case(pattern: str, action: str, expected: bool) -> None:
    """Action names are case-insensitive and take `*` and `?` (reference_policies_elements_action.html:
    "iam:*AccessKey*" matches every action that contains AccessKey)."""
    assert action_matches(pattern, action) is expected


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        ("arn:aws:iam::123456789012:user/*", "arn:aws:iam::123456789012:user/Bob", True),
        ("arn:aws:iam::123456789012:user/*", "arn:aws:iam::123456789012:group/Admins", False),
        ("arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", "arn:aws:s3:::amzn-s3-demo-bucket/a/test/b", True),
        ("arn:aws:s3:::amzn-s3-demo-bucket/*/test/*", "arn:aws:s3:::amzn-s3-demo-bucket/a/b/c", False),
        ("arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:us-east-1:123456789012:instance/i-1", True),
        ("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/key", False),
        ("arn:aws:dynamodb:us-east-1:1234567890?2:table/t", "arn:aws:dynamodb:us-east-1:123456789012:table/t", True),
        (
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*",
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:log-stream:x",
            True,
        ),
        ("arn:aws:iam::*", "arn:aws:iam::123456789012:role/r", True),
        ("arn:aws:sqs:us-*-1:123456789012:q", "arn:aws:sqs:us-east-1:123456789012:q", True),
        ("arn:aws:sqs:us*1:123456789012:q", "arn:aws:sqs:us-east:x-1:123456789012:q", False),
        ("*", "arn:aws:s3:::anything", True),
    ],
)
def test_resource_wildcards_are_case_sensitive_and_per_segment(pattern: str, resource: str, expected: bool) -> None:
    """Resource ARNs match case-sensitively; `*`/`?` work within a segment, and a `*` that ends a segment
    may run past colons (reference_policies_elements_resource.html, "Using wildcards in resource ARNs")."""
    assert arn_matches(pattern, resource) is expected


def test_string_like_spans_colons() -> None:
    """StringLike's `*` matches any characters (reference_policies_elements_condition_operators.html)."""
    assert string_like("arn:aws:logs:*", "arn:aws:logs:us-east-1:1:log-group:x")
    assert not string_like("home/*", "HOME/x")
    assert string_like("home/*", "HOME/x", ignore_case=True)


def test_policy_variables() -> None:
    """`${aws:username}` takes the request's value; `${*}` is a literal star; a default applies when the key
    is absent (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html)."""
    assert substitute("arn:aws:s3:::b/${aws:username}/*", {"aws:username": "carlos"}) == "arn:aws:s3:::b/carlos/*"
    assert substitute("a${*}b", {}) == "a*b"
    assert substitute("team/${aws:PrincipalTag/team, 'company-wide'}", {}) == "team/company-wide"
    with pytest.raises(LookupError):
        substitute("${aws:username}", {})
