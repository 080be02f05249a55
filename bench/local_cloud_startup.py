"""How long `platformctl local up` takes to print `ready` with every stack deployed (goal: under 30 s on a
2-core machine), beside the baseline of starting a bare moto server and answering one request, measured
in the same run, each in a fresh process (imports included)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_RUNS", "2"))

BARE_MOTO = """
import time, boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port={port}, verbose=False)
server.start()
boto3.client("s3", endpoint_url="http://127.0.0.1:{port}", region_name="us-east-1",
             aws_access_key_id="t", aws_secret_access_key="t").list_buckets()
server.stop()
"""


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bare_moto_seconds() -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", BARE_MOTO.format(port=_free_port())], check=True, cwd=REPO)
    return time.monotonic() - started


def local_up_seconds() -> tuple[float, float]:
    """(wall seconds to the ready line, seconds the command itself reports)."""
    state = REPO / ".local-cloud" / "bench"
    env = dict(os.environ, PLATFORMCTL_ENDPOINTS_FILE=str(state / "endpoints.json"))
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "platformctl", "local", "up", "--port", str(_free_port())],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    reported = float("nan")
    try:
        for line in process.stdout:
            match = re.match(r"ready in ([\d.]+)s", line)
            if match:
                reported = float(match.group(1))
                break
            if line.startswith("platformctl:"):
                raise RuntimeError(line.strip())
        wall = time.monotonic() - started
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    return wall, reported


def main() -> None:
    baseline = min(bare_moto_seconds() for _ in range(RUNS))
    runs = [local_up_seconds() for _ in range(RUNS)]
    best_wall = min(wall for wall, _ in runs)
    print(f"bare moto server start + 1 request (baseline): {baseline:6.2f} s")
    for index, (wall, reported) in enumerate(runs, 1):
        print(f"local up to ready, run {index}:                  {wall:6.2f} s (command reports {reported:.2f} s)")
    print(f"best local up / baseline:                     {best_wall / baseline:6.1f}x")
    print(f"goal: ready under 30 s -> {'met' if best_wall < 30 else 'NOT met'} ({best_wall:.1f} s)")


if __name__ == "__main__":
    main()
