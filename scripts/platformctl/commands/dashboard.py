"""``platformctl dashboard --env ENV [--out FILE.html] [--since DURATION]``: the dashboards as one HTML page.

Draws the dashboards ``platformctl dashboards`` generates (the overview and one per job), with the
environment's names, from the environment's CloudWatch: metrics (GetMetricData), alarm states
(DescribeAlarms) and Logs Insights results, into one self-contained HTML file (inline CSS and SVG, no script,
nothing loaded from the network), so anyone can look at them without an AWS account or console. ``--env local``
reads the running local cloud (``.local-cloud/endpoints.json``) and writes next to it by default; what the
local cloud cannot compute is said on the page. ``--since`` (default: the dashboards' own 12 hours) takes
3h, 90m, 2d or PT12H. See docs/operations.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platformctl.aws_target import add_env_argument
from platformctl.durations import parse_since
from platformctl.errors import UserError


def default_out(environment: str, brand: str) -> Path:
    """Local: beside the running local cloud's endpoints file (its state dir); else the current directory."""
    from platformctl.aws_target import ENDPOINTS_FILE, LOCAL_ENVIRONMENT

    if environment == LOCAL_ENVIRONMENT:
        override = os.environ.get("PLATFORMCTL_ENDPOINTS_FILE")
        return (Path(override) if override else ENDPOINTS_FILE).parent / "dashboard.html"
    return Path.cwd() / f"{brand}-{environment}-dashboards.html"


def write_dashboard(
    target: Any, out: Path | None, *, since: str | None = None, now: datetime | None = None
) -> tuple[Path, Any]:
    """Render the target environment's dashboards to ``out``; the path written and the page drawn."""
    from platformctl import dashboard_data, dashboard_html
    from platformctl.manifest import load_manifest
    from platformctl.params import brand_of

    manifest = load_manifest()
    brand = brand_of(target.environment, manifest.stacks)
    identity_arn = _caller_arn(target)
    names = dashboard_data.Names(
        brand=brand,
        environment=target.environment,
        region=target.region_name,
        account_id=target.account_id,
        partition=identity_arn.split(":")[1] if identity_arn.count(":") >= 5 else "aws",
    )
    moment = now or datetime.now(UTC)
    window = parse_since(since) if since else None
    page = dashboard_data.build_page(target, names, manifest, end=moment, since=window)
    source = f"local cloud at {target.endpoint_url}" if target.is_local else f"account {names.account_id}"
    text = dashboard_html.render(page, generated=moment, source=source)
    path = out or default_out(target.environment, brand)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path, page


def _caller_arn(target: Any) -> str:
    target.account_id  # noqa: B018 - reaches the target first, with its UserError when it cannot
    return str(target.client("sts").get_caller_identity().get("Arn", ""))


def command(args: argparse.Namespace) -> int:
    from platformctl.aws_target import target_for

    if args.since is not None:
        parse_since(args.since)  # a bad duration fails before anything is read
    path, page = write_dashboard(target_for(args.env), Path(args.out) if args.out else None, since=args.since)
    widgets = sum(len(d.widgets) for d in page.dashboards)
    print(f"wrote {path} ({len(page.dashboards)} dashboards, {widgets} widgets)")
    for note in page.notes:
        print(f"  note: {note}", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="render an environment's dashboards as one self-contained HTML page (no AWS console needed)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_env_argument(parser)
    parser.add_argument("--out", help="the HTML file to write (default: .local-cloud/dashboard.html for local)")
    parser.add_argument("--since", help="how far back to show (3h, 90m, 2d, PT12H; default: the dashboards' 12 h)")
    parser.set_defaults(func=command)
