"""Demo step: what is deployed (stacks, resources per type) and where to reach it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from platformctl.scenarios.report import Report

ORDER = 0


def step(cloud: Any, report: Report) -> None:
    cfn = cloud.target.client("cloudformation")
    report.section("stacks deployed on the local cloud")
    rows = []
    types: Counter[str] = Counter()
    for result in cloud.results:
        resources = cfn.describe_stack_resources(StackName=result.stack_name)["StackResources"]
        types.update(r["ResourceType"] for r in resources)
        status = cfn.describe_stacks(StackName=result.stack_name)["Stacks"][0]["StackStatus"]
        rows.append((result.stack_name, status, len(resources), f"{result.seconds:.1f}s"))
        report.expect(status in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}, f"{result.stack_name} is {status}")
    report.table(("STACK", "STATUS", "RESOURCES", "DEPLOY"), rows)
    report.section("resources per type")
    report.table(("TYPE", "COUNT"), sorted(types.items()))
    endpoints = cloud.endpoints()
    report.section("endpoints (.local-cloud/endpoints.json)")
    for key in ("aws_endpoint", "event_bus", "bucket"):
        report.line(f"{key}: {endpoints.get(key)}")
    for group in ("tables", "dlqs", "http_apis", "simulators", "state_machines"):
        for name, value in sorted(endpoints.get(group, {}).items()):
            report.line(f"{group}.{name}: {value}")
