"""Bad operator input is one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import pytest

from platformctl.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["deploy", "--env", "qa"], "unknown environment 'qa'"),
        (["plan", "--env", "local", "--job", "nope"], None),
        (["status", "--env", "local"], "the local cloud is not running"),
        (["lint", "--gate", "spellcheck"], "unknown gate"),
    ],
)
def test_bad_input_is_one_line(
    argv: list[str], message: str | None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setattr("platformctl.aws_target.ENDPOINTS_FILE", tmp_path / "missing.json")
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("platformctl: ")
    if message:
        assert message in lines[0]


def test_prod_without_credentials_says_what_to_do(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code = main(["status", "--env", "prod"])
    err = capsys.readouterr().err
    assert code == 1
    assert "no AWS credentials found" in err
    assert "Traceback" not in err


def test_manifest_listing_for_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "images", "--job", "recharge"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["recharge-webhook\tlambdas/recharge/webhook\tlambdas/recharge/webhook/Dockerfile"]


def test_a_port_in_use_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["local", "up", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"port {port} on 127.0.0.1 is in use" in err
    assert "Traceback" not in err
