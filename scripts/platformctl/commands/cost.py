"""``platformctl cost --orders-per-day N [N ...] [--region R] [--json | --markdown]``: the monthly AWS bill.

Per service, from the per-unit figures measured on the local cloud (``cost/units.json``), the assumptions
(``cost/assumptions.json``, overridable with ``--assume``), the templates as an environment deploys them
(``--env``, default ``prod``) and a region's prices (``cost/prices.json``). ``platformctl cost measure``
runs the measuring scenario on a fresh local cloud and, with ``--write``, stores what it measured as the
new ``units.json``. How it all works: docs/cost.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from typing import Any

from platformctl.cost import render
from platformctl.cost.model import HERE, Estimate, assumption_values, estimate, load_json
from platformctl.cost.template_facts import collect
from platformctl.errors import UserError
from platformctl.manifest import load_manifest

# What the measuring scenario needs deployed (the privacy job indexes what lands in the lake).
MEASURED_JOBS = "shared,monitoring,shopify,recharge,triplewhale,data-quality,privacy"


def register(subparsers: Any) -> None:
    cost = subparsers.add_parser("cost", help="estimate the monthly AWS bill for a number of orders a day")
    cost.add_argument("--orders-per-day", type=float, nargs="+", metavar="N", help="orders a day (one or more)")
    cost.add_argument("--region", default="us-east-1", help="region whose prices apply (default: us-east-1)")
    cost.add_argument("--env", default="prod", help="environment whose parameter files size the stacks (default: prod)")
    cost.add_argument(
        "--assume", action="append", default=[], metavar="NAME=JSON", help="override an assumption (repeatable)"
    )
    form = cost.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print JSON")
    form.add_argument("--markdown", action="store_true", help="print one Markdown table, a column per N")
    cost.set_defaults(func=cmd_cost)
    sub = cost.add_subparsers(dest="cost_command")
    measure = sub.add_parser("measure", help="measure the per-unit figures on a fresh local cloud")
    measure.add_argument("--write", action="store_true", help="store them as scripts/platformctl/cost/units.json")
    measure.add_argument("--port", type=int, default=0, help="emulator port (default: a free one)")
    measure.set_defaults(func=cmd_measure)


def parse_assumptions(pairs: list[str]) -> dict[str, Any]:
    values = assumption_values(load_json("assumptions.json"))
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or name not in values:
            raise UserError(f"--assume {pair!r}: use NAME=VALUE with one of {', '.join(sorted(values))}")
        try:
            values[name] = json.loads(text)
        except json.JSONDecodeError:
            values[name] = text
    return values


def estimates(orders: list[float], region: str, env: str = "prod", assume: list[str] | None = None) -> list[Estimate]:
    if not orders or any(n <= 0 for n in orders):
        raise UserError("--orders-per-day needs one or more positive numbers")
    facts = collect(load_manifest(), env)
    prices, units, assumptions = load_json("prices.json"), load_json("units.json"), parse_assumptions(assume or [])
    return [estimate(n, region, units=units, prices=prices, assumptions=assumptions, facts=facts) for n in orders]


def cmd_cost(args: argparse.Namespace) -> int:
    if not args.orders_per_day:
        raise UserError("give --orders-per-day N (or use `platformctl cost measure`)")
    found = estimates(args.orders_per_day, args.region, args.env, args.assume)
    if args.markdown:
        sys.stdout.write(render.markdown(found))
    elif args.json:
        documents = [render.as_json(e) for e in found]
        print(json.dumps(documents[0] if len(documents) == 1 else documents, indent=2))
    else:
        prices = load_json("prices.json")
        for item in found:
            sys.stdout.write(render.text(item) + "\n")
        print(f"prices of {prices['read_on']} (scripts/platformctl/cost/prices.json); free tiers ignored; docs/cost.md")
    return 0


def cmd_measure(args: argparse.Namespace) -> int:
    from pathlib import Path
    from tempfile import TemporaryDirectory

    from platformctl.cost.measure import measure
    from platformctl.localcloud.server import LocalCloud, free_port

    with TemporaryDirectory(prefix="cost-measure-") as scratch:
        state = Path(scratch)
        cloud = LocalCloud(
            args.port or free_port(), state_dir=state, endpoints_file=state / "endpoints.json", out=io.StringIO()
        )
        with cloud:
            print(f"cost measure: deploying {MEASURED_JOBS} on {cloud.endpoint_url}", flush=True)
            cloud.deploy(cloud.select(os.environ.get("PLATFORM_LOCAL_STACKS") or MEASURED_JOBS))
            document = measure(cloud, progress=lambda line: print(f"  {line}", flush=True))
    text = json.dumps(document, indent=1, sort_keys=True) + "\n"
    if args.write:
        (HERE / "units.json").write_text(text, encoding="utf-8")
        print(f"wrote {HERE / 'units.json'}")
    else:
        sys.stdout.write(text)
    return 0
