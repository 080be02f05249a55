"""Authenticity of a Recharge webhook delivery, decided on the raw body bytes.

Recharge signs every delivery with the API client secret in up to two ways (docs/recharge.md lists the
sources this follows):

- timestamped (recommended): ``X-Recharge-Webhook-Signature: t=<epoch seconds>,v1=<hex>`` where ``v1``
  is HMAC-SHA256, keyed by the secret, over ``"<t>.<raw body>"`` (``t`` exactly as sent). A delivery
  older than ``max_age`` or further in the future than ``future_skew`` is refused, so a captured
  delivery cannot be replayed after the window.
- legacy: ``X-Recharge-Hmac-Sha256: <hex>`` = SHA-256 (a plain hash, not an HMAC) of the secret
  followed by the raw body.

When the timestamped header is present it alone decides: a delivery whose timestamped signature fails
is refused even if its legacy header is right (a forger who strips nothing must not win by adding a
legacy header). With ``require_timestamped`` a delivery without the timestamped header is refused
whatever its legacy header says. The legacy scheme proves less than it seems: SHA-256(secret + body) is
open to length extension (anyone holding one signed body can sign that body followed by SHA-256 padding
and bytes of their choosing) and carries no time, so the handler treats a legacy-only verdict as
"authentic only if the body is a fresh, processable resource" (app.py). Every comparison is
constant-time. Several secrets may be given (the current one and, during a rotation, the previous one
within its grace period); any of them may have signed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TIMESTAMPED_HEADER = "x-recharge-webhook-signature"
LEGACY_HEADER = "x-recharge-hmac-sha256"
TIMESTAMP_HEADER = "x-recharge-webhook-timestamp"  # informational: the signed value is the header's t=

DEFAULT_MAX_AGE_SECONDS = 48 * 3600  # Recharge's own replay window (its retries span 48 hours)
DEFAULT_FUTURE_SKEW_SECONDS = 300

_EPOCH = re.compile(r"^[0-9]{1,12}$")

# Verdict reasons, also the values of the ``reason`` log key and the quarantine-free 401 metric.
VALID = "valid"
MISSING = "missing"
MALFORMED = "malformed"
STALE = "stale"
FUTURE = "future"
MISMATCH = "mismatch"
TIMESTAMP_REQUIRED = "timestamp-required"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    scheme: str  # "timestamped" | "legacy" | "none"
    reason: str  # one of the reasons above
    secret_index: int | None = None  # which of the given secrets signed (0 = current)


def legacy_digest(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode("utf-8") + body).hexdigest()


def timestamped_digest(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def _same(expected_hex: str, given: str) -> bool:
    # Bytes on both sides: compare_digest rejects non-ASCII str, and a header can carry anything.
    return hmac.compare_digest(expected_hex.encode("ascii"), given.strip().lower().encode("utf-8", "replace"))


def _parse_timestamped(value: str) -> tuple[str, list[str]] | None:
    """``t=<digits>,v1=<sig>[,v1=<sig>...]`` (other keys ignored); None when malformed."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            return None
        key, item = key.strip(), item.strip()
        if key == "t":
            timestamps.append(item)
        elif key == "v1":
            signatures.append(item)
    if len(timestamps) != 1 or not _EPOCH.match(timestamps[0]) or not signatures:
        return None
    return timestamps[0], signatures


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    *,
    now: float,
    max_age: float = DEFAULT_MAX_AGE_SECONDS,
    future_skew: float = DEFAULT_FUTURE_SKEW_SECONDS,
    require_timestamped: bool = False,
) -> Verdict:
    """Decide whether ``body`` was signed by Recharge with one of ``secrets``.

    ``headers`` must have lower-case names (API Gateway payload 2.0 gives them so).
    """
    usable = [s for s in secrets if s]
    timestamped = headers.get(TIMESTAMPED_HEADER)
    if timestamped is not None:
        return _verify_timestamped(body, timestamped, usable, now=now, max_age=max_age, future_skew=future_skew)
    legacy = headers.get(LEGACY_HEADER)
    if require_timestamped:
        return Verdict(False, "legacy" if legacy is not None else "none", TIMESTAMP_REQUIRED)
    if legacy is not None:
        for index, secret in enumerate(usable):
            if _same(legacy_digest(secret, body), legacy):
                return Verdict(True, "legacy", VALID, index)
        return Verdict(False, "legacy", MISMATCH)
    return Verdict(False, "none", MISSING)


def _verify_timestamped(
    body: bytes, header: str, secrets: Sequence[str], *, now: float, max_age: float, future_skew: float
) -> Verdict:
    parsed = _parse_timestamped(header)
    if parsed is None:
        return Verdict(False, "timestamped", MALFORMED)
    timestamp, signatures = parsed
    age = now - int(timestamp)
    if age > max_age:
        return Verdict(False, "timestamped", STALE)
    if -age > future_skew:
        return Verdict(False, "timestamped", FUTURE)
    for index, secret in enumerate(secrets):
        expected = timestamped_digest(secret, timestamp, body)
        if any(_same(expected, given) for given in signatures):
            return Verdict(True, "timestamped", VALID, index)
    return Verdict(False, "timestamped", MISMATCH)
