"""Every role a platform stack creates carries the brand's permissions boundary.

The CloudFormation execution role may create a role only with the boundary attached, so a template
whose role lacks it would fail half-way through its change set with AccessDenied. The deploy tool
checks the templates first and refuses, one line per role, before any change set.
"""

from __future__ import annotations

from platformctl.manifest import Stack
from platformctl.templates import load_template

BOUNDARY_PARAMETER = "PermissionsBoundaryArn"
BOUNDED_TYPES = ("AWS::IAM::Role",)


def boundary_problems(stacks: list[Stack]) -> list[str]:
    """One line per role of a non-bootstrap stack without ``PermissionsBoundary: !Ref PermissionsBoundaryArn``."""
    problems = []
    for stack in stacks:
        if stack.bootstrap:
            continue  # the CI roles themselves, deployed by an administrator
        resources = load_template(stack.template_path).get("Resources") or {}
        for logical_id, resource in resources.items():
            if not isinstance(resource, dict) or resource.get("Type") not in BOUNDED_TYPES:
                continue
            boundary = (resource.get("Properties") or {}).get("PermissionsBoundary")
            if boundary != {"Ref": BOUNDARY_PARAMETER}:
                problems.append(
                    f"{stack.template}: role {logical_id} has no PermissionsBoundary: !Ref {BOUNDARY_PARAMETER} "
                    f"(the execution role creates roles only with the brand's boundary); add it, and feed "
                    f'the parameter in ci/ingestion_jobs.json ("{BOUNDARY_PARAMETER}": '
                    '"shared/cfn-execution.PermissionsBoundaryArn")'
                )
    return problems
