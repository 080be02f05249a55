"""``make demo``: the whole platform on the local cloud, driven by the scenario steps, then stopped."""

from __future__ import annotations

import sys
import time

from platformctl.localcloud.server import LocalCloud
from platformctl.scenarios import steps
from platformctl.scenarios.report import Report


def run_demo(port: int = 4566) -> int:
    started = time.monotonic()
    report = Report(sys.stdout)
    with LocalCloud(port) as cloud:
        print(f"demo: local cloud on {cloud.endpoint_url}; deploying every stack of the local environment", flush=True)
        cloud.deploy()
        cloud.write_endpoints()
        print(f"ready in {time.monotonic() - started:.1f}s", flush=True)
        for name, step in steps():
            step_started = time.monotonic()
            step(cloud, report)
            cloud.wait_idle()
            print(f"   ({name}: {time.monotonic() - step_started:.1f}s)", flush=True)
    print(f"\ndemo finished in {time.monotonic() - started:.1f}s; the local cloud is stopped", flush=True)
    if report.problems:
        print(f"demo: {len(report.problems)} expectation(s) did not hold:", file=sys.stderr)
        for problem in report.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    return 0
