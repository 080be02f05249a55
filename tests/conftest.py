"""Shared fixtures: the real payload samples in ../shared, and one local cloud per test session."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures" / "real"
COPIED_FIXTURES = REPO_ROOT / "tests" / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock",
        metavar="INSTANT",
        help=(
            "run the whole session with the clock started at this UTC instant (ISO 8601, e.g. "
            "2027-12-31T23:59:30Z); it then ticks on. CI runs the unit tests at day, month and year "
            "boundaries this way, so no test depends on the hour or the date it runs at."
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    instant = config.getoption("--clock")
    if instant:
        import time_machine

        traveller = time_machine.travel(instant, tick=True)
        traveller.start()
        config.add_cleanup(traveller.stop)


def pytest_report_header(config: pytest.Config) -> str | None:
    instant = config.getoption("--clock")
    return f"clock: started at {instant} (--clock)" if instant else None


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real account: fake credentials and a fixed region unless a test sets them."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", os.environ.get("TEST_AWS_ACCESS_KEY_ID", "testing"))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


def shared_fixture_path(relative: str) -> Path:
    """A file of ../shared/fixtures/real; the test is skipped when ../shared is not next to the repo."""
    path = SHARED_FIXTURES / relative
    if not path.exists():
        pytest.skip(f"../shared/fixtures/real/{relative} is not present (conformance tests need ../shared)")
    return path


def load_shared_json(relative: str) -> Any:
    return json.loads(shared_fixture_path(relative).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local cloud for the whole test session, every stack of the local environment deployed."""
    from platformctl.localcloud.server import LocalCloud, free_port

    state = tmp_path_factory.mktemp("local-cloud")
    cloud = LocalCloud(free_port(), state_dir=state, endpoints_file=state / "endpoints.json", out=_Quiet())
    cloud.start()
    try:
        # PLATFORM_LOCAL_STACKS narrows the deploy while a stack is being developed (e.g. "shared,monitoring").
        cloud.deploy(cloud.select(os.environ.get("PLATFORM_LOCAL_STACKS")))
        cloud.write_endpoints()
        yield cloud
    finally:
        cloud.stop()


class _Quiet:
    """Swallows deploy progress output (pytest shows it only on failure anyway)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        self.lines.append(text)
        return len(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """Local Spark (the Spark line of Glue 5.0) for the Glue job's tests, started once per session."""
    from orders_enriched_job import local_session

    session = local_session(
        1,
        **{
            "spark.sql.shuffle.partitions": "2",
            "spark.sql.session.timeZone": "UTC",
            # Tiny inputs: compiling generated code costs more than it saves; adaptive planning adds stages.
            "spark.sql.codegen.wholeStage": "false",
            "spark.sql.adaptive.enabled": "false",
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
