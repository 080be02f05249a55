"""The credential a simulator accepts, read from the local cloud's Secrets Manager like the Lambdas read it."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

_MAX_AGE_SECONDS = 2.0


class LocalSecretValues:
    """The ``field`` values of the secrets whose name ends with ``name_suffix``; None when there is no such
    secret (or no emulator yet). Cached briefly; ``forget()`` after a miss, as the secret may just have
    been rotated."""

    def __init__(self, cloud: Any, name_suffix: str, field: str) -> None:
        self.cloud = cloud
        self.name_suffix = name_suffix
        self.field = field
        self._client: Any = None
        self._cache: tuple[float, set[str] | None] = (0.0, None)
        self._lock = threading.Lock()

    def forget(self) -> None:
        self._cache = (0.0, None)

    def values(self) -> set[str] | None:
        if self.cloud is None:
            return None
        checked_at, cached = self._cache
        if time.monotonic() - checked_at < _MAX_AGE_SECONDS:
            return cached
        with self._lock:
            found: set[str] | None = None
            try:
                if self._client is None:
                    self._client = self.cloud.target.client("secretsmanager")
                for page in self._client.get_paginator("list_secrets").paginate():
                    for secret in page.get("SecretList", []):
                        if str(secret.get("Name", "")).endswith(self.name_suffix):
                            value = json.loads(self._client.get_secret_value(SecretId=secret["ARN"])["SecretString"])
                            if value.get(self.field):
                                found = (found or set()) | {str(value[self.field])}
            except Exception:  # noqa: BLE001 - no emulator yet (before deploy), or no such secret
                found = None
            self._cache = (time.monotonic(), found)
            return found
