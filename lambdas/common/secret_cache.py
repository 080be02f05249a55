"""Secrets Manager values as JSON objects, cached for a bounded time per execution environment.

The bound matters twice: a rotated secret is picked up within ``max_age`` seconds without a redeploy,
and ``previous()`` returns the ``AWSPREVIOUS`` version so a verifier can accept both during a rotation;
``created()`` says when a version was made, so a rotation's grace period can be counted from it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class SecretFormatError(RuntimeError):
    """The secret exists but is not the JSON object the platform documents."""


class CachedSecret:
    def __init__(
        self,
        client: SecretsManagerClient,
        secret_id: str,
        *,
        max_age_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._secret_id = secret_id
        self._max_age = max_age_seconds
        self._clock = clock
        # stage -> (when fetched, value, when Secrets Manager created that version)
        self._cache: dict[str, tuple[float, dict[str, str] | None, datetime | None]] = {}

    def current(self) -> dict[str, str]:
        value = self._get("AWSCURRENT")
        if value is None:
            raise SecretFormatError(f"secret {self._secret_id} has no current value")
        return value

    def previous(self) -> dict[str, str] | None:
        """The value before the last rotation, or None when there has been none."""
        return self._get("AWSPREVIOUS")

    def key(self, name: str) -> str:
        value = self.current().get(name)
        if not value:
            raise SecretFormatError(f"secret {self._secret_id} has no key {name!r}")
        return value

    def created(self, stage: str = "AWSCURRENT") -> datetime | None:
        """When the cached version of ``stage`` was created (None when Secrets Manager did not say)."""
        self._get(stage)
        return self._cache[stage][2]

    def invalidate(self) -> None:
        self._cache.clear()

    def _get(self, stage: str) -> dict[str, str] | None:
        now = self._clock()
        cached = self._cache.get(stage)
        if cached is not None and now - cached[0] < self._max_age:
            return cached[1]
        value, created = self._fetch(stage)
        self._cache[stage] = (now, value, created)
        return value

    def _fetch(self, stage: str) -> tuple[dict[str, str] | None, datetime | None]:
        try:
            response = self._client.get_secret_value(SecretId=self._secret_id, VersionStage=stage)
        except ClientError as exc:
            if stage != "AWSCURRENT" and exc.response.get("Error", {}).get("Code") in {
                "ResourceNotFoundException",
                "InvalidRequestException",
            }:
                return None, None
            raise
        try:
            parsed = json.loads(response.get("SecretString") or "")
        except json.JSONDecodeError:
            raise SecretFormatError(f"secret {self._secret_id} ({stage}) is not JSON") from None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise SecretFormatError(f"secret {self._secret_id} ({stage}) is not a JSON object of strings")
        created = response.get("CreatedDate")  # absent from some emulators' answers
        return parsed, created if isinstance(created, datetime) else None
