"""Every command lives in ``platformctl.commands`` and takes ``--env`` from one helper, the same everywhere."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Iterator

import pytest

import platformctl.commands
from platformctl.aws_target import add_env_argument
from platformctl.cli import build_parser

# `cost --env` names the parameter files that size an estimate and reaches no environment; its default,
# prod, is what a monthly bill means (docs/cost.md's table is that default's output).
NOT_A_TARGET = {("cost",)}


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield (*path, name), child
                yield from _commands(child, (*path, name))


def _env_action(parser: argparse.ArgumentParser) -> argparse.Action | None:
    return next((a for a in parser._actions if "--env" in a.option_strings), None)


def _shape(action: argparse.Action) -> tuple[object, ...]:
    return (
        type(action),
        tuple(action.option_strings),
        action.dest,
        action.required,
        action.default,
        action.help,
        action.type,
        action.choices,
        action.nargs,
        action.metavar,
    )


def _reference() -> argparse.Action:
    parser = argparse.ArgumentParser()
    add_env_argument(parser)
    action = _env_action(parser)
    assert action is not None
    return action


def test_every_command_takes_env_from_the_helper() -> None:
    reference = _shape(_reference())
    with_env = {path: _env_action(parser) for path, parser in _commands(build_parser())}
    with_env = {path: action for path, action in with_env.items() if action is not None}
    different = {
        " ".join(path): _shape(action)
        for path, action in with_env.items()
        if path not in NOT_A_TARGET and _shape(action) != reference
    }
    assert different == {}, f"--env not from aws_target.add_env_argument: {different}"
    # The commands that act on an environment (a floor: a new one is checked by the assertion above).
    assert {
        ("deploy",), ("plan",), ("status",), ("params",), ("rollback",), ("bulk", "start"), ("bulk", "status"),
        ("glue", "run"), ("recharge", "url"), ("query",), ("redrive",), ("replay",), ("privacy", "erase"),
        ("alerts",), ("dashboard",), ("iam", "report"),
    } <= set(with_env)  # fmt: skip


def test_the_exemption_is_still_needed() -> None:
    """The one --env that is not a target must still exist and differ, or the exemption goes."""
    commands = dict(_commands(build_parser()))
    for path in NOT_A_TARGET:
        action = _env_action(commands[path])
        assert action is not None, path
        assert _shape(action) != _shape(_reference()), path


def test_env_is_required() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bulk", "start"])
    assert build_parser().parse_args(["bulk", "start", "--env", "local"]).env == "local"


def test_every_command_is_a_module_of_commands() -> None:
    """cli.py registers nothing itself: the top-level commands are exactly those the modules add."""
    registered: set[str] = set()
    for module in pkgutil.iter_modules(platformctl.commands.__path__):
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"platformctl.commands.{module.name}").register(sub)
        assert sub.choices, f"platformctl.commands.{module.name} registers no command"
        registered |= set(sub.choices)
    top = {path[0] for path, _ in _commands(build_parser())}
    assert top == registered
    assert {"deploy", "plan", "status", "params", "lint", "manifest", "local", "demo"} <= top
