"""Condition operators, checked against the examples of IAM's condition operator reference.

Pages cited by short name below live under https://docs.aws.amazon.com/IAM/latest/UserGuide/.
"""

from __future__ import annotations

import pytest

from platformctl.iam.conditions import PolicyError, conditions_hold


def test_string_equals_and_not_equals() -> None:
    """StringEquals on aws:PrincipalTag/job-category "iamuser-admin" (condition_operators.html, String)."""
    condition = {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}
    assert conditions_hold(condition, {"aws:PrincipalTag/job-category": "iamuser-admin"})
    assert not conditions_hold(condition, {"aws:PrincipalTag/job-category": "IAMUser-Admin"})
    assert not conditions_hold(condition, {})
    negated = {"StringNotEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}
    assert conditions_hold(negated, {"aws:PrincipalTag/job-category": "dev"})
    assert not conditions_hold(negated, {"aws:PrincipalTag/job-category": "iamuser-admin"})
    # A negated operator holds when the key is absent.
    assert conditions_hold(negated, {})


def test_ignore_case_variants() -> None:
    """StringEqualsIgnoreCase / StringNotEqualsIgnoreCase ignore case (condition_operators.html, String)."""
    assert conditions_hold(
        {"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "Data"}}, {"aws:PrincipalTag/team": "DATA"}
    )
    assert not conditions_hold(
        {"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "Data"}}, {"aws:PrincipalTag/team": "data"}
    )


def test_string_like_prefix_list_with_variable() -> None:
    """The s3:prefix example: StringLike ["", "home/", "home/${aws:username}/*"] (condition_operators.html)."""
    condition = {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}}
    assert conditions_hold(condition, {"s3:prefix": "home/", "aws:username": "carlos"})
    assert conditions_hold(condition, {"s3:prefix": "home/carlos/photos/", "aws:username": "carlos"})
    assert not conditions_hold(condition, {"s3:prefix": "home/maria/", "aws:username": "carlos"})
    assert not conditions_hold(condition, {"s3:prefix": "home/maria/"})
    assert conditions_hold({"StringNotLike": {"s3:prefix": "tmp/*"}}, {"s3:prefix": "home/x"})


def test_values_of_a_key_are_ored_and_keys_anded() -> None:
    """Multiple values for one key are OR-ed; multiple keys and operators are AND-ed
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html)."""
    condition = {
        "StringEquals": {"aws:PrincipalTag/department": ["finance", "hr", "legal"], "aws:PrincipalTag/role": "audit"},
        "Bool": {"aws:SecureTransport": "true"},
    }
    context = {"aws:PrincipalTag/department": "hr", "aws:PrincipalTag/role": "audit", "aws:SecureTransport": True}
    assert conditions_hold(condition, context)
    assert not conditions_hold(condition, {**context, "aws:PrincipalTag/department": "it"})
    assert not conditions_hold(condition, {**context, "aws:SecureTransport": False})
    # Negated: the value must match none of the listed values.
    negated = {"StringNotEquals": {"aws:PrincipalTag/department": ["finance", "hr"]}}
    assert conditions_hold(negated, {"aws:PrincipalTag/department": "legal"})
    assert not conditions_hold(negated, {"aws:PrincipalTag/department": "hr"})


def test_numeric_operators() -> None:
    """NumericLessThanEquals on s3:max-keys "10" (condition_operators.html, Numeric)."""
    condition = {"NumericLessThanEquals": {"s3:max-keys": "10"}}
    assert conditions_hold(condition, {"s3:max-keys": "10"})
    assert conditions_hold(condition, {"s3:max-keys": 3})
    assert not conditions_hold(condition, {"s3:max-keys": "11"})
    assert not conditions_hold(condition, {"s3:max-keys": "ten"})
    assert conditions_hold({"NumericLessThan": {"s3:TlsVersion": "1.2"}}, {"s3:TlsVersion": "1.0"})
    assert not conditions_hold({"NumericLessThan": {"s3:TlsVersion": "1.2"}}, {"s3:TlsVersion": "1.2"})
    assert conditions_hold({"NumericNotEquals": {"n": "1"}}, {"n": "2"})
    assert conditions_hold({"NumericGreaterThan": {"n": "1"}}, {"n": "2"})
    assert conditions_hold({"NumericGreaterThanEquals": {"n": "2"}}, {"n": "2"})
    assert conditions_hold({"NumericEquals": {"n": "2"}}, {"n": "2.0"})


def test_date_operators() -> None:
    """The aws:CurrentTime window example: DateGreaterThan 2020-04-01T00:00:00Z and DateLessThan
    2020-06-30T23:59:59Z (condition_operators.html, Date); epoch seconds are accepted as well."""
    window = {
        "DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
        "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"},
    }
    assert conditions_hold(window, {"aws:CurrentTime": "2020-05-15T12:00:00Z"})
    assert not conditions_hold(window, {"aws:CurrentTime": "2020-07-01T00:00:00Z"})
    assert conditions_hold({"DateLessThan": {"aws:EpochTime": "1700000000"}}, {"aws:EpochTime": 1600000000})
    assert conditions_hold({"DateEquals": {"t": "2020-01-01T00:00:00Z"}}, {"t": "2020-01-01T00:00:00+00:00"})
    assert conditions_hold({"DateNotEquals": {"t": "2020-01-01T00:00:00Z"}}, {"t": "2021-01-01T00:00:00Z"})


def test_bool_secure_transport() -> None:
    """Bool on aws:SecureTransport "false" (condition_operators.html, Boolean)."""
    deny_plain_http = {"Bool": {"aws:SecureTransport": "false"}}
    assert conditions_hold(deny_plain_http, {"aws:SecureTransport": False})
    assert conditions_hold(deny_plain_http, {"aws:SecureTransport": "FALSE"})
    assert not conditions_hold(deny_plain_http, {"aws:SecureTransport": True})
    assert not conditions_hold(deny_plain_http, {})


def test_ip_address() -> None:
    """IpAddress / NotIpAddress on aws:SourceIp 203.0.113.0/24 (condition_operators.html, IP address)."""
    assert conditions_hold({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.7"})
    assert not conditions_hold({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.1"})
    assert conditions_hold(
        {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}, {"aws:SourceIp": "10.0.0.1"}
    )
    assert not conditions_hold({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "not-an-ip"})


def test_arn_operators() -> None:
    """ArnEquals on aws:SourceArn of an SNS topic for sqs:SendMessage (condition_operators.html, ARN)."""
    condition = {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:TOPIC-ID"}}
    assert conditions_hold(condition, {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:TOPIC-ID"})
    assert not conditions_hold(condition, {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:other"})
    like = {"ArnLike": {"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/*"}}
    assert conditions_hold(like, {"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/bus/r"})
    assert conditions_hold({"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::x*"}}, {"aws:SourceArn": "arn:aws:s3:::y"})
    assert conditions_hold({"ArnNotEquals": {"aws:SourceArn": "arn:aws:s3:::x"}}, {})


def test_null() -> None:
    """Null on aws:TokenIssueTime: "true" holds when the key is absent (condition_operators.html, Null)."""
    assert conditions_hold({"Null": {"aws:TokenIssueTime": "true"}}, {})
    assert not conditions_hold({"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"})
    assert conditions_hold({"Null": {"aws:TokenIssueTime": "false"}}, {"aws:TokenIssueTime": "x"})


def test_if_exists() -> None:
    """StringLikeIfExists on ec2:InstanceType: true when the key is absent, evaluated when present
    (condition_operators.html, "...IfExists condition operators")."""
    condition = {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}
    assert conditions_hold(condition, {})
    assert conditions_hold(condition, {"ec2:InstanceType": "t2.micro"})
    assert not conditions_hold(condition, {"ec2:InstanceType": "p3.16xlarge"})
    assert conditions_hold({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, {})


def test_set_qualifiers() -> None:
    """ForAllValues holds for an absent key or when every request value matches; ForAnyValue needs one
    match (reference_policies_condition-single-vs-multi-valued-context-keys.html)."""
    all_values = {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["ID", "Message", "Tags"]}}
    assert conditions_hold(all_values, {"dynamodb:Attributes": ["ID", "Message"]})
    assert not conditions_hold(all_values, {"dynamodb:Attributes": ["ID", "Secret"]})
    assert conditions_hold(all_values, {})
    assert conditions_hold(all_values, {"dynamodb:Attributes": []})
    any_value = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}
    assert conditions_hold(any_value, {"aws:TagKeys": ["owner", "environment"]})
    assert not conditions_hold(any_value, {"aws:TagKeys": ["owner"]})
    assert not conditions_hold(any_value, {})
    # ForAllValues with a negated operator: no request value may be one of the listed values.
    none_of = {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["protected"]}}
    assert conditions_hold(none_of, {"aws:TagKeys": ["a", "b"]})
    assert not conditions_hold(none_of, {"aws:TagKeys": ["a", "protected"]})
    assert conditions_hold({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["a", "b"]})


def test_condition_key_names_are_case_insensitive() -> None:
    """Condition key names are not case-sensitive; values are (reference_policies_elements_condition.html)."""
    assert conditions_hold(
        {"StringEquals": {"AWS:SourceAccount": "123456789012"}}, {"aws:sourceaccount": "123456789012"}
    )


def test_encryption_context_key_with_colons() -> None:
    """kms:EncryptionContext:<key> keys carry the context key's own colons
    (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-encryption-context)."""
    condition = {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:123456789012:log-group:*"}}
    assert conditions_hold(
        condition, {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:123456789012:log-group:g"}
    )
    assert not conditions_hold(condition, {})


def test_unknown_operator_fails_loudly() -> None:
    """An operator IAM does not have is an error, never a silent match (condition_operators.html)."""
    with pytest.raises(PolicyError):
        conditions_hold({"StringSortOf": {"k": "v"}}, {"k": "v"})
    with pytest.raises(PolicyError):
        conditions_hold({"ForAnyValue:Null": {"k": "true"}}, {})


def test_no_condition_holds() -> None:
    """A statement without a Condition element applies unconditionally (reference_policies_elements_condition.html)."""
    assert conditions_hold(None, {})
