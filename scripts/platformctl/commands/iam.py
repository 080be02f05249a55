"""``platformctl iam report --env local``: per role, the permissions its policies grant that the local
cloud never saw it use.

The running local cloud records every request it evaluated, per role (``.local-cloud/iam-usage.jsonl``);
this command reads that record and the roles' policies as deployed in the emulator's IAM, and lists what
was granted but never used so far, followed by what was denied. Run the scenario (``make demo``, the
integration tests, your own traffic) first: an unused permission is a candidate for removal, not a proof.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from platformctl.aws_target import LOCAL_STATE_DIR, add_env_argument, target_for
from platformctl.errors import UserError
from platformctl.iam.actions import known_actions
from platformctl.iam.report import granted, unused
from platformctl.iam.usage import USAGE_FILE, Use, read_uses


def _document(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        return dict(json.loads(unquote(raw)))
    return dict(raw)


def role_policies(iam: Any) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """Role name -> (ARN, identity policy documents) read through the IAM API."""
    roles: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            name = role["RoleName"]
            documents = [
                _document(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
                for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]
            ]
            for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
                document = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)
                documents.append(_document(document["PolicyVersion"]["Document"]))
            roles[name] = (role["Arn"], documents)
    return roles


def render(roles: dict[str, tuple[str, list[dict[str, Any]]]], uses: list[Use], only: str | None = None) -> list[str]:
    known = known_actions() | {use.action for use in uses}
    by_role: dict[str, list[Use]] = defaultdict(list)
    for use in uses:
        by_role[use.role].append(use)
    lines: list[str] = []
    for name in sorted(roles):
        if only and name != only:
            continue
        arn, documents = roles[name]
        role_uses = by_role.get(arn, [])
        permissions = granted(documents, known)
        never = unused(permissions, role_uses)
        lines.append(f"{name}: {len(never)} of {len(permissions)} granted permissions unused")
        lines += [f"  unused  {p.action} on {p.resource}" for p in never]
        lines += sorted({f"  denied  {u.action} on {u.resource}" for u in role_uses if not u.allowed})
    return lines


def command(args: argparse.Namespace) -> int:
    if args.env != "local":
        raise UserError("iam report reads the local cloud's record of requests: use --env local")
    usage_file = Path(args.usage_file) if args.usage_file else LOCAL_STATE_DIR / USAGE_FILE
    if not usage_file.exists():
        raise UserError(
            f"no record of requests at {usage_file}: start the local cloud with IAM enforcement "
            "(`platformctl local up`, PLATFORM_LOCAL_IAM not off) and run some traffic first"
        )
    roles = role_policies(target_for("local").client("iam"))
    for line in render(roles, list(read_uses(usage_file)), args.role):
        print(line)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "iam",
        help="least privilege on the local cloud: what each role was granted but never used",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="iam_command", required=True)
    report = sub.add_parser("report", help="per role, the granted permissions no request used so far")
    add_env_argument(report)  # only local keeps a record of requests: the command refuses the others
    report.add_argument("--role", help="only this role (name)")
    report.add_argument("--usage-file", help=f"the record to read (default: .local-cloud/{USAGE_FILE})")
    report.set_defaults(func=command)
