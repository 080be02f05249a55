"""``platformctl recharge sign``: what it prints is a delivery the handler's verifier accepts."""

from __future__ import annotations

import io
import shlex
from pathlib import Path

import pytest

from platformctl.cli import main
from recharge.webhook import signature as sig  # the handler's module: conftest puts its folder on sys.path
from tests.unit.recharge.conftest import SECRET, webhook_body


def _sign(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[dict[str, str], list[str], str]:
    assert main(["recharge", "sign", *args]) == 0
    captured = capsys.readouterr()
    headers: dict[str, str] = {}
    curl: list[str] = []
    for line in captured.out.splitlines():
        if line.startswith("curl "):
            curl = shlex.split(line)
        elif ": " in line and not line.startswith("#"):
            name, _, value = line.partition(": ")
            headers[name.lower()] = value
    return headers, curl, captured.err


@pytest.fixture
def body_file(tmp_path: Path) -> Path:
    path = tmp_path / "subscription.json"
    path.write_bytes(webhook_body("subscription"))
    return path


def test_both_schemes_verify_and_curl_posts_the_exact_bytes(
    capsys: pytest.CaptureFixture[str], body_file: Path
) -> None:
    headers, curl, err = _sign(
        capsys, "--secret", SECRET, "--timestamp", "1700000000", "--url", "http://h/x", str(body_file)
    )
    body = body_file.read_bytes()
    assert sig.verify(body, headers, [SECRET], now=1_700_000_000).ok
    legacy_only = {sig.LEGACY_HEADER: headers[sig.LEGACY_HEADER]}
    assert sig.verify(body, legacy_only, [SECRET], now=1_700_000_000).ok
    assert headers["x-recharge-topic"] == "subscription/updated"
    assert "inferred" in err
    assert headers["x-recharge-webhook-timestamp"] == "1700000000"
    assert curl[:6] == ["curl", "-sS", "-i", "-X", "POST", "http://h/x"]
    assert curl[-2:] == ["--data-binary", f"@{body_file}"]
    assert f"X-Recharge-Webhook-Signature: {headers[sig.TIMESTAMPED_HEADER]}" in curl


def test_scheme_topic_and_per_topic_url(capsys: pytest.CaptureFixture[str], body_file: Path) -> None:
    headers, curl, _ = _sign(
        capsys, "--secret", SECRET, "--scheme", "legacy", "--topic", "subscription/cancelled",
        "--url", "http://h/recharge/webhooks/", "--per-topic-url", str(body_file),
    )  # fmt: skip
    assert sig.TIMESTAMPED_HEADER not in headers
    assert sig.LEGACY_HEADER in headers
    assert "http://h/recharge/webhooks/subscription/cancelled" in curl
    assert sig.verify(body_file.read_bytes(), headers, [SECRET], now=0).ok


def test_the_secret_can_come_from_stdin(
    capsys: pytest.CaptureFixture[str], body_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    headers, _, _ = _sign(capsys, "--secret", "-", "--url", "http://h", str(body_file))
    assert sig.verify(body_file.read_bytes(), headers, [SECRET], now=float(headers["x-recharge-webhook-timestamp"])).ok
    assert SECRET not in capsys.readouterr().out


def test_operator_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    not_json = tmp_path / "x.txt"
    not_json.write_text("hello")
    assert main(["recharge", "sign", "--secret", SECRET, str(not_json)]) == 1
    assert "pass --topic" in capsys.readouterr().err
    assert main(["recharge", "sign", "--secret", SECRET, str(tmp_path / "missing.json")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_the_cli_and_the_handler_agree_on_the_path_token(app_classes: object) -> None:
    """Written apart (platformctl's path_token, the handler's path_token_of), so each checks the other."""
    from platformctl.commands.recharge import path_token

    handler_token = app_classes.path_token_of  # type: ignore[attr-defined]
    derived = {"webhook_secret": SECRET}
    assert path_token(derived) == handler_token(derived)
    assert len(path_token(derived)) == 40
    explicit = {"webhook_secret": SECRET, "path_token": "p" * 43}
    assert path_token(explicit) == handler_token(explicit) == "p" * 43


def test_the_url_command_is_registered(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["recharge", "url", "--help"])
    assert "path token" in capsys.readouterr().out
