"""``platformctl iam report``: granted permissions no recorded request used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from platformctl.commands.iam import render
from platformctl.iam.report import Permission, granted, unused
from platformctl.iam.usage import UsageLog, Use, read_uses

ROLE = "arn:aws:iam::123456789012:role/acme-local-webhook"
LAKE = "arn:aws:s3:::acme-lake"


def _policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": f"{LAKE}/raw/*"},
            {"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:us-east-1:123456789012:alerts"},
            {"Effect": "Allow", "Action": "secretsmanager:Get*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
        ],
    }


def test_wildcards_expand_to_known_actions() -> None:
    permissions = granted([_policy()], {"secretsmanager:GetSecretValue", "secretsmanager:GetResourcePolicy"})
    assert Permission("secretsmanager:GetSecretValue", "*") in permissions
    assert Permission("secretsmanager:GetResourcePolicy", "*") in permissions
    assert all(p.action != "s3:DeleteObject" for p in permissions)


def test_a_matching_allowed_use_consumes_a_permission() -> None:
    permissions = granted([_policy()], set())
    uses = [
        Use(ROLE, "s3:PutObject", f"{LAKE}/raw/orders/1.json", True),
        Use(ROLE, "sns:Publish", "arn:aws:sns:us-east-1:123456789012:alerts", False),
    ]
    left = unused(permissions, uses)
    assert Permission("s3:PutObject", f"{LAKE}/raw/*") not in left
    assert Permission("s3:GetObject", f"{LAKE}/raw/*") in left
    assert Permission("sns:Publish", "arn:aws:sns:us-east-1:123456789012:alerts") in left  # only denied


def test_render_lists_unused_and_denied_per_role(tmp_path: Path) -> None:
    log = UsageLog(tmp_path / "iam-usage.jsonl")
    log.record(Use(ROLE, "s3:PutObject", f"{LAKE}/raw/a.json", True))
    log.record(Use(ROLE, "s3:PutObject", f"{LAKE}/raw/a.json", True))  # recorded once
    log.record(Use(ROLE, "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t", False))
    uses = list(read_uses(tmp_path / "iam-usage.jsonl"))
    assert len(uses) == 2
    lines = render({"acme-local-webhook": (ROLE, [_policy()]), "idle": ("arn:aws:iam::1:role/idle", [])}, uses)
    assert lines[0].startswith("acme-local-webhook: ")
    assert f"  unused  s3:GetObject on {LAKE}/raw/*" in lines
    assert f"  unused  s3:PutObject on {LAKE}/raw/*" not in lines
    assert "  denied  dynamodb:PutItem on arn:aws:dynamodb:us-east-1:123456789012:table/t" in lines
    assert "idle: 0 of 0 granted permissions unused" in lines
    assert render({"idle": ("arn:aws:iam::1:role/idle", [])}, uses, only="other") == []
