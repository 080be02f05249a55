from __future__ import annotations

from dataclasses import dataclass

import pytest

from common.config import ConfigError, env_field, load_settings


@dataclass(frozen=True)
class Settings:
    table: str = env_field("ORDERS_TABLE_NAME")
    retries: int = env_field("RETRIES", default=3)
    strict: bool = env_field("STRICT", default=False)
    ratio: float | None = env_field("RATIO", default=None)
    topics: tuple[str, ...] = env_field("TOPICS", default=())


def test_reads_typed_values() -> None:
    settings = load_settings(
        Settings,
        {"ORDERS_TABLE_NAME": "t", "RETRIES": "5", "STRICT": "true", "RATIO": "0.5", "TOPICS": "a, b,,c"},
    )
    assert settings == Settings("t", 5, True, 0.5, ("a", "b", "c"))


def test_defaults_apply_when_unset() -> None:
    assert load_settings(Settings, {"ORDERS_TABLE_NAME": "t"}) == Settings("t")


def test_missing_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="ORDERS_TABLE_NAME") as caught:
        load_settings(Settings, {})
    assert "Settings.table" in str(caught.value)


@pytest.mark.parametrize(("variable", "value"), [("RETRIES", "three"), ("STRICT", "maybe"), ("RATIO", "x")])
def test_malformed_values_are_named(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings(Settings, {"ORDERS_TABLE_NAME": "t", variable: value})


def test_only_dataclasses() -> None:
    with pytest.raises(TypeError):
        load_settings(dict, {})
