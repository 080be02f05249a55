"""Shopify processors: cold start and warm cost per event, each beside baselines measured in the same run.

Cold start: the time to import a processor's app.py in a fresh interpreter set up as Lambda sets up its
init phase (``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_FUNCTION_NAME``, tracing on): the libraries, the settings,
the module-level AWS clients. The environment is the stack's, as the unit tests build it
(``tests.unit.shopify.support.environment``), so a new setting reaches the bench without a second list.
Outside that environment the X-Ray SDK builds a centralized-sampling client pair at import (two botocore
sessions, about the cost of boto3's import again), which it never does on Lambda
(aws/aws-xray-sdk-python#273), so a bare interpreter would measure a cold start no function has. Each
processor runs from a task root built as its Dockerfile builds it, finished by
``scripts/finish_task_root.py`` (only the SDK data of the services the functions call; byte-compiled
code); one row shows the order processor without that last step. The baseline is importing boto3 alone
(goal: at most 1.5x). Beside it, the floor every handler of this platform stands on: boto3 with the S3
and DynamoDB clients made once at init, as AWS advises (creating them in the handler instead only moves
the cost to the first event), with the stock and with the images' SDK data, and that floor with
Powertools' Logger, Metrics and Tracer (goal: a processor at most 1.2x it, column ``x +PT``). Runs are
interleaved and the best of ``BENCH_RUNS`` (9) gives the ratios (noise here only adds time, so the best
run is the least disturbed one; the median is printed beside it).

Warm: each processor's CPU time per event over ``BENCH_EVENTS`` (10,000) realistic events of its own
topics, built from the unit tests' fixtures (``tests/fixtures/shopify``): one to three versions of each
resource, about one in ten redelivered, one in twenty multi-version resources with its last version
delivered before the one it follows. AWS calls go to in-process moto. Beside each processor, in the same
run and on the same events: a minimal handler that only ``json.loads`` the event and does one
``put_item`` (goal: at most 2x); the minimal handler that also keeps the raw event (``put_object``, the
first rule); and the floor of what any processor must do: keep the raw event and write its item once,
conditionally (one ``put_item`` of the item prepared ahead, so nothing of the processor's own work is in
it). ``BENCH_SECONDS`` (180; 0: no bound) bounds each processor's run, and the report says when it
stopped early (moto copies whole tables for each transaction, so the order processor's run is the
slowest). The time spent in the SDK and moto is reported apart from the handler's own, and the own time
is measured again with the recorded AWS answers replayed (``SdkTimer``). The goals per processor: at
most 2.0 AWS calls and 0.5 ms of own CPU per event. ``BENCH_PROFILE=<processor>`` prints a cProfile of
its warm loop first.

    python -m bench.shopify_processor        # or: make bench
"""

from __future__ import annotations

import contextlib
import copy
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "9"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "10000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "180"))
PROCESSORS = ("order", "fulfillment", "customer", "product", "cart")
BASELINE_CASE = "boto3 alone (baseline)"
FLOOR_CASE = "floor: boto3 + S3 and DynamoDB clients"
POWERTOOLS_CASE = "  + Powertools Logger, Metrics, Tracer"
# What the child interpreters add to the processors' environment (support.environment(), the stack's):
# credentials and a region for the clients made at init. One source, so a new setting reaches both parts.
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def environment() -> dict[str, str]:
    """The processors' environment as the stack sets it (the unit tests' one), logging at INFO."""
    from tests.unit.shopify import support

    return {**support.environment(), **AWS_ENVIRONMENT, "POWERTOOLS_LOG_LEVEL": "INFO"}


CHILD = """
import resource, sys, time
sys.path[:0] = {paths!r}
started = time.perf_counter()
{statement}
elapsed = time.perf_counter() - started
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


# ----------------------------------------------------------------------------------------- cold start


def _child(statement: str, paths: list[str]) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "LAMBDA_"))}
    env.update(environment(), PYTHONDONTWRITEBYTECODE="1")
    # As on Lambda: the task root and function name are set and tracing is on (the X-Ray SDK and
    # Powertools branch on them); the segments go nowhere, since nothing is invoked.
    env.pop("POWERTOOLS_TRACE_DISABLED")
    env.update(LAMBDA_TASK_ROOT=paths[0] if paths else str(REPO), AWS_LAMBDA_FUNCTION_NAME="bench-processor")
    code = CHILD.format(paths=paths, statement=statement)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=REPO)
    seconds, rss = result.stdout.split()[-2:]
    return float(seconds), int(rss)


def _task_root(workdir: Path, name: str, *, finished: bool) -> Path:
    """A processor's task root as its Dockerfile copies it: the shared library and the function."""
    root = workdir / (name if finished else f"{name}-unfinished")
    no_bytecode = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "lambdas" / "common", root / "common", ignore=no_bytecode)
    package = root / "shopify" / f"{name}_processor"
    shutil.copytree(REPO / "lambdas" / "shopify" / f"{name}_processor", package, ignore=no_bytecode)
    shutil.copy2(REPO / "lambdas" / "shopify" / "__init__.py", root / "shopify" / "__init__.py")
    if finished:
        import finish_task_root

        finish_task_root.compile_code(root)
    return root


def _finished_sdk(workdir: Path) -> Path:
    """botocore as pip installs it into an image, then finished as the Dockerfiles finish it."""
    import botocore

    import finish_task_root
    from common.aws import SERVICES

    sdk = workdir / "sdk"
    shutil.copytree(Path(botocore.__file__).parent, sdk / "botocore")  # keeps mtimes: its .pyc stay valid
    finish_task_root.slim_sdk_data(sdk / "botocore" / "data", SERVICES)
    return sdk


def cold_start() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-task-roots-") as tmp:
        workdir = Path(tmp)
        sdk = str(_finished_sdk(workdir))
        roots = {name: str(_task_root(workdir, name, finished=True)) for name in PROCESSORS}
        unfinished = str(_task_root(workdir, "order", finished=False))
        clients = "from common.aws import dynamodb, s3; s3(); dynamodb()"
        powertools = f"{clients}; import common.observability"
        cases: dict[str, tuple[str, list[str]]] = {
            BASELINE_CASE: ("import boto3", []),
            "floor, stock SDK data": (clients, [roots["order"]]),
            FLOOR_CASE: (clients, [roots["order"], sdk]),
            POWERTOOLS_CASE: (powertools, [roots["order"], sdk]),
            "order processor, unfinished image": ("import shopify.order_processor.app", [unfinished]),
        }
        for name in PROCESSORS:
            cases[f"{name} processor"] = (f"import shopify.{name}_processor.app", [roots[name], sdk])
        samples: dict[str, list[tuple[float, int]]] = {case: [] for case in cases}
        for _ in range(RUNS):  # interleaved, so drift and noise hit every case alike
            for case, (statement, paths) in cases.items():
                samples[case].append(_child(statement, paths))
    baseline = min(s for s, _ in samples[BASELINE_CASE])
    floor = min(s for s, _ in samples[FLOOR_CASE])
    powertools_floor = min(s for s, _ in samples[POWERTOOLS_CASE])
    print(f"cold start: import as in Lambda's init phase, best and median of {RUNS} interleaved runs", flush=True)
    print("  task roots as the Dockerfiles build them (scripts/finish_task_root.py: SDK data of the services")
    print("  the functions call, byte-compiled code); 'unfinished': the stock SDK data and no byte code")
    print(f"  {'case':<52} {'best s':>7} {'median':>7} {'x boto3':>8} {'x floor':>8} {'x +PT':>7} {'peak RSS':>9}")
    for case, values in samples.items():
        best, median = min(s for s, _ in values), statistics.median(s for s, _ in values)
        rss = max(r for _, r in values) / 1024
        ratios = f"{best / baseline:>7.2f}x {best / floor:>7.2f}x {best / powertools_floor:>6.2f}x"
        print(f"  {case:<52} {best:>7.3f} {median:>7.3f} {ratios} {rss:>7.0f}MB")
    print("  goals: a processor at most 1.50x boto3 alone and 1.20x the floor with Powertools (x +PT)", flush=True)


# ---------------------------------------------------------------------------------------------- warm


def _fixture(name: str, key: str) -> Any:
    return json.loads((REPO / "tests/fixtures/shopify" / f"{name}__shopify-python-api.json").read_text())[key]


def _order(number: int, step: int) -> tuple[str, dict[str, Any]]:
    """An online order (a cart and a checkout token), created then updated."""
    order = copy.deepcopy(_fixture("order", "order"))
    order.update(id=number, name=f"#{number}", order_number=number, financial_status="paid")
    order.update(cart_token=f"cart-{number}", checkout_token=f"checkout-{number}")
    return ("orders/create" if step == 0 else "orders/updated"), order


def _fulfillment(number: int, step: int) -> tuple[str, dict[str, Any]]:
    fulfillment = copy.deepcopy(_fixture("fulfillment", "fulfillment"))
    fulfillment.update(id=number, order_id=number + 1, shipment_status=("confirmed", "in_transit", "delivered")[step])
    return ("fulfillments/create" if step == 0 else "fulfillments/update"), fulfillment


def _customer(number: int, step: int) -> tuple[str, dict[str, Any]]:
    """A customer with both marketing consents (their consent_updated_at unchanged by later updates)."""
    customer = copy.deepcopy(_fixture("customer", "customer"))
    customer.update(id=number, orders_count=step, state="enabled" if step else "disabled")
    customer["email_marketing_consent"] = {
        "state": "subscribed",
        "opt_in_level": "single_opt_in",
        "consent_updated_at": "2026-05-01T10:00:00Z",
    }
    customer["sms_marketing_consent"] = {
        "state": "not_subscribed",
        "opt_in_level": "single_opt_in",
        "consent_updated_at": "2026-05-01T10:00:00Z",
        "consent_collected_from": "OTHER",
    }
    return ("customers/create" if step == 0 else "customers/update"), customer


def _product(number: int, step: int) -> tuple[str, dict[str, Any]]:
    product = copy.deepcopy(_fixture("product", "product"))
    product.update(id=number, title=f"Product {number} v{step}")
    return ("products/create" if step == 0 else "products/update"), product


def _cart(number: int, step: int) -> tuple[str, dict[str, Any]]:
    """Half carts, half checkouts (each naming its cart), as the storefront sends them."""
    checkout = copy.deepcopy(_fixture("checkouts", "checkouts")[0])
    if number % 2:
        checkout.update(id=number, token=f"checkout-{number}", cart_token=f"cart-{number - 1}")
        return ("checkouts/create" if step == 0 else "checkouts/update"), checkout
    cart = {
        "id": f"cart-{number}",
        "token": f"cart-{number}",
        "created_at": checkout["created_at"],
        "line_items": checkout["line_items"][: step + 1],
    }
    return ("carts/create" if step == 0 else "carts/update"), cart


RESOURCES: dict[str, Callable[[int, int], tuple[str, dict[str, Any]]]] = {
    "order": _order,
    "fulfillment": _fulfillment,
    "customer": _customer,
    "product": _product,
    "cart": _cart,
}


def _events(name: str, count: int) -> list[str]:
    """A processor's events as EventBridge delivers them, JSON text: one to three versions of each
    resource (its updated_at rising), about one in ten redelivered and one in twenty arriving after
    the version that followed it (a late version)."""
    from tests.unit.shopify.support import envelope

    rng = random.Random(7)
    events: list[str] = []
    version = 0
    while len(events) < count:
        number = 6_000_000_000 + len(events)
        versions = []
        for step in range(rng.randint(1, 3)):
            version += 1
            topic, payload = RESOURCES[name](number, step)
            payload["updated_at"] = f"2026-06-01T{step:02d}:{version % 60:02d}:{version // 60 % 60:02d}Z"
            versions.append(json.dumps(envelope(topic, payload, event_id=f"bench-{version:07d}")))
        if len(versions) > 1 and rng.random() < 0.05:  # the last version overtakes the one before it
            versions[-2], versions[-1] = versions[-1], versions[-2]
        for text in versions:
            events.append(text)
            if rng.random() < 0.1:  # a redelivery
                events.append(text)
    return events[:count]


class SdkTimer:
    """CPU time spent inside botocore calls (the SDK and, here, moto answering them), and their answers.

    moto keeps every table in this process and copies whole tables for each transaction (to roll it
    back), so the handler's own code runs among its garbage: collections it triggers and a cold cache
    land in the time outside the calls. ``replayed`` is the handler's own time with those calls answered
    from the recording instead (the same events, the same answers, no moto in the process), which is
    what the handler costs where the tables are elsewhere, as on Lambda."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self.answers: list[tuple[Any, BaseException | None]] = []
        self.replayed = 0.0

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from botocore import client as botocore_client

        BaseClient: Any = botocore_client.BaseClient  # noqa: N806 - patched for the run

        original = BaseClient._make_api_call
        timer = self

        def timed(client: Any, operation: str, params: Any) -> Any:
            started = time.process_time()
            try:
                answer = original(client, operation, params)
            except Exception as exc:
                timer.answers.append((None, exc))
                raise
            else:
                timer.answers.append((answer, None))
                return answer
            finally:
                timer.seconds += time.process_time() - started
                timer.calls += 1

        BaseClient._make_api_call = timed
        try:
            yield
        finally:
            BaseClient._make_api_call = original

    def replay(self, handler: Callable[[str], Any], events: list[str]) -> None:
        """Run ``events`` again, each AWS call answered by the recorded answer: ``replayed`` CPU seconds."""
        from botocore import client as botocore_client

        BaseClient: Any = botocore_client.BaseClient  # noqa: N806 - patched for the run

        original = BaseClient._make_api_call
        answers = iter(self.answers)

        def recorded(client: Any, operation: str, params: Any) -> Any:
            answer, error = next(answers)
            if error is not None:
                raise error
            return answer

        BaseClient._make_api_call = recorded
        gc.collect()
        try:
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                started = time.process_time()
                for event in events:
                    handler(event)
                self.replayed = time.process_time() - started
        finally:
            BaseClient._make_api_call = original


MINIMAL_ROW = "minimal (json.loads + put_item)"
FLOOR_ROW = "floor (raw put_object, conditional put of the item)"
Run = tuple[int, float, SdkTimer]  # (events handled, CPU seconds, time in botocore and moto)


def _run(handler: Callable[[str], Any], events: list[str], budget: float | None) -> Run:
    timer = SdkTimer()
    with timer.installed(), open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        started_wall = time.monotonic()
        started = time.process_time()
        done = 0
        for event in events:
            handler(event)
            done += 1
            if budget is not None and time.monotonic() - started_wall > budget:
                break
        cpu = time.process_time() - started
    timer.replay(handler, events[:done])
    return done, cpu, timer


def _floor_item(state: Any) -> dict[str, Any]:
    """What the processor stores of a prepared event: its attributes, profile or snapshot body."""
    for name in ("attributes", "profile", "body"):
        value = getattr(state, name, None)
        if value:
            return dict(value)
    return {}


def _floor_handler(session: Any, name: str, events: list[str], module: Any) -> Callable[[str], None]:
    """The raw object and one conditional put of the processor's item, prepared ahead of the timed run."""
    from common.hotstore import serialize
    from common.shopify import events as se
    from common.timeutil import to_epoch_micros

    s3, dynamodb = session.client("s3"), session.client("dynamodb")
    bucket, table = os.environ["DATA_LAKE_BUCKET_NAME"], f"bench-floor-{name}"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    items: dict[str, dict[str, Any]] = {}
    for text in set(events):
        parsed = se.parse_event(json.loads(text))
        item = {"id": str(parsed.payload["id"]), **_floor_item(module.prepare(parsed))}
        version = to_epoch_micros(se.version_time(parsed.payload, parsed))
        items[text] = serialize(item | {"source_version": version, "source_event_id": parsed.event_id})

    def floor(text: str) -> None:
        event = json.loads(text)
        event_id = event["detail"]["metadata"]["X-Shopify-Event-Id"]
        s3.put_object(Bucket=bucket, Key=f"raw/bench-floor/{event_id}.json", Body=text.encode())
        item = items[text]
        # An older or the same version fails the condition: what the processor calls stale or duplicate.
        with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
            dynamodb.put_item(
                TableName=table,
                Item=item,
                ConditionExpression="attribute_not_exists(#v) OR #v < :v",
                ExpressionAttributeNames={"#v": "source_version"},
                ExpressionAttributeValues={":v": item["source_version"]},
            )

    return floor


def _minimal_handler(session: Any, name: str, *, raw: bool = False) -> Callable[[str], None]:
    """json.loads and one put_item; with ``raw``, the event is first kept verbatim (the issue's first rule)."""
    s3, dynamodb = session.client("s3"), session.client("dynamodb")
    bucket, table = os.environ["DATA_LAKE_BUCKET_NAME"], f"bench-minimal-{name}{'-raw' if raw else ''}"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def minimal(text: str) -> None:
        event = json.loads(text)
        if raw:
            event_id = event["detail"]["metadata"]["X-Shopify-Event-Id"]
            s3.put_object(Bucket=bucket, Key=f"raw/bench-minimal/{event_id}.json", Body=text.encode())
        dynamodb.put_item(
            TableName=table,
            Item={"id": {"S": event["detail"]["metadata"]["X-Shopify-Event-Id"]}, "body": {"S": text[:1000]}},
        )

    return minimal


def _profile(handler: Callable[[str], Any], events: list[str]) -> None:
    """``BENCH_PROFILE=<processor>``: cProfile of the processor's warm loop, by own time outside botocore."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        profile.runcall(lambda: [handler(event) for event in events])
    stats = pstats.Stats(profile)
    own = r"lambdas|common/|app\.py|powertools|aws_xray|logging|json|decimal|datetime|dataclasses"
    stats.sort_stats("tottime").print_stats(own, 40)
    stats.sort_stats("cumtime").print_stats(own, 40)


def _warm_processor(session: Any, name: str, budget: float | None) -> dict[str, Run]:
    from tests.unit.shopify import support

    events = _events(name, EVENTS)
    function = support.load_processor(name)
    context = support.Context()
    handler = lambda text: function.handler(json.loads(text), context)  # noqa: E731
    if os.environ.get("BENCH_PROFILE") == name:
        _profile(handler, events[: min(len(events), 2000)])
    processor = _run(handler, events, budget)
    done = processor[0]
    return {
        "minimal (json.loads + put_item)": _run(_minimal_handler(session, name), events[:done], None),
        "minimal + the raw event kept (put_object)": _run(
            _minimal_handler(session, name, raw=True), events[:done], None
        ),
        "floor (raw put_object, conditional put of the item)": _run(
            _floor_handler(session, name, events[:done], function.module), events[:done], None
        ),
        f"{name} processor": processor,
    }


def warm() -> None:
    import boto3
    from moto import mock_aws
    from tests.unit.shopify import support

    os.environ.update(environment())
    budget = SECONDS if SECONDS > 0 else None
    results: dict[str, dict[str, Run]] = {}
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        support.create_stores(session)
        from common.observability import logger

        log_handler: Any = logger.registered_handler
        log_handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
        for name in PROCESSORS:
            results[name] = _warm_processor(session, name, budget)

    print(f"\nwarm: CPU per event over {EVENTS} events of each processor's topics, AWS calls against in-process moto")
    print("  one to three versions per resource, ~10% redelivered, ~5% of multi-version resources late")
    columns = f"{'ms/event':>9} {'x minimal':>10} {'x floor':>8} {'AWS calls':>10} {'own ms':>8} {'replayed':>9}"
    print(f"  {'handler':<52} {columns}")
    for name, rows in results.items():
        done = rows[f"{name} processor"][0]
        stopped = "" if done == EVENTS else f", stopped at the {SECONDS:.0f}s budget of BENCH_SECONDS"
        print(f"  {name} ({done} events{stopped})")
        minimal, floor = (
            rows["minimal (json.loads + put_item)"],
            rows["floor (raw put_object, conditional put of the item)"],
        )
        minimal_ms, floor_ms = (cpu / count * 1000 for count, cpu, _ in (minimal, floor))
        for row, (count, cpu, sdk) in rows.items():
            per, own = cpu / count * 1000, (cpu - sdk.seconds) / count * 1000
            print(
                f"    {row:<50} {per:>9.2f} {per / minimal_ms:>9.2f}x {per / floor_ms:>7.2f}x "
                f"{sdk.calls / count:>10.2f} {own:>8.3f} {sdk.replayed / count * 1000:>9.3f}"
            )
    print("  own = outside botocore/moto: parsing, validation, normalisation, logging, metrics")
    print("  replayed = own, the same events run again with each AWS call answered from the recording")
    print("    (no moto heap in the process: its collections and cache misses are not the handler's)")
    print("  goals per processor: at most 2.00 AWS calls and 0.500 own ms (replayed) per event", flush=True)


def main() -> None:
    sys.path[:0] = [str(REPO / "lambdas"), str(REPO / "scripts"), str(REPO)]
    cold_start()
    warm()


if __name__ == "__main__":
    main()
