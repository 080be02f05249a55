"""Authenticity: both Recharge schemes, the replay window, rotation, and every way a signature can be wrong.

Deliveries are signed with ``platformctl recharge sign``'s functions (written from Recharge's description,
apart from the verifier), and a few known vectors pin the constructions themselves.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platformctl.commands.recharge import legacy_signature, signed_headers, timestamped_signature
from recharge.webhook import signature as sig  # the handler's module: conftest puts its folder on sys.path
from tests.unit.recharge.conftest import OLD_SECRET, SECRET, webhook_body

NOW = 1_700_000_000
BODY = webhook_body("subscription")
WINDOW = 48 * 3600


def _headers(body: bytes = BODY, *, secret: str = SECRET, scheme: str = "both", t: int = NOW) -> dict[str, str]:
    return {k.lower(): v for k, v in signed_headers(secret, body, topic=None, timestamp=t, scheme=scheme).items()}


def _verify(headers: dict[str, str], body: bytes = BODY, secrets: tuple[str, ...] = (SECRET,)) -> sig.Verdict:
    return sig.verify(body, headers, list(secrets), now=NOW)


def test_known_vectors_of_both_constructions() -> None:
    body = b'{"subscription": {"id": 1}}'
    # legacy: plain SHA-256 of secret then body (not an HMAC)
    assert sig.legacy_digest("abc", body) == hashlib.sha256(b"abc" + body).hexdigest()
    assert sig.legacy_digest("abc", body) != hmac.new(b"abc", body, hashlib.sha256).hexdigest()
    # timestamped: HMAC-SHA256 keyed by the secret over "<t>.<body>"
    expected = hmac.new(b"abc", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sig.timestamped_digest("abc", "1700000000", body) == expected
    assert timestamped_signature("abc", body, 1700000000) == f"t=1700000000,v1={expected}"
    assert legacy_signature("abc", body) == sig.legacy_digest("abc", body)


@pytest.mark.parametrize("scheme", ["legacy", "timestamped", "both"])
def test_valid_signatures_pass(scheme: str) -> None:
    verdict = _verify(_headers(scheme=scheme))
    assert verdict.ok
    assert verdict.reason == sig.VALID
    assert verdict.secret_index == 0
    assert verdict.scheme == ("legacy" if scheme == "legacy" else "timestamped")


@pytest.mark.parametrize("scheme", ["legacy", "timestamped"])
def test_wrong_secret_fails(scheme: str) -> None:
    verdict = _verify(_headers(secret="not-the-secret", scheme=scheme))
    assert not verdict.ok
    assert verdict.reason == sig.MISMATCH


@pytest.mark.parametrize("scheme", ["legacy", "timestamped"])
def test_tampered_body_fails(scheme: str) -> None:
    headers = _headers(scheme=scheme)
    tampered = BODY.replace(b'"active"', b'"cancelled"')
    assert tampered != BODY
    assert not _verify(headers, tampered).ok
    assert not _verify(headers, BODY + b" ").ok  # one space more is another body


def test_stale_and_future_timestamps_fail_at_the_window_edges() -> None:
    assert _verify(_headers(scheme="timestamped", t=NOW - WINDOW)).ok
    stale = _verify(_headers(scheme="timestamped", t=NOW - WINDOW - 1))
    assert not stale.ok
    assert stale.reason == sig.STALE
    assert _verify(_headers(scheme="timestamped", t=NOW + 300)).ok
    future = _verify(_headers(scheme="timestamped", t=NOW + 301))
    assert not future.ok
    assert future.reason == sig.FUTURE


def test_a_stale_timestamped_header_is_not_rescued_by_a_valid_legacy_header() -> None:
    headers = _headers(scheme="both", t=NOW - WINDOW - 60)
    assert sig.verify(BODY, {sig.LEGACY_HEADER: headers[sig.LEGACY_HEADER]}, [SECRET], now=NOW).ok
    verdict = _verify(headers)
    assert not verdict.ok
    assert verdict.reason == sig.STALE


def test_missing_signature_fails() -> None:
    verdict = _verify({"content-type": "application/json"})
    assert not verdict.ok
    assert verdict.reason == sig.MISSING
    assert verdict.scheme == "none"


def test_both_headers_with_one_bad() -> None:
    good = _headers(scheme="both")
    bad_timestamped = dict(good, **{sig.TIMESTAMPED_HEADER: f"t={NOW},v1={'0' * 64}"})
    verdict = _verify(bad_timestamped)
    assert not verdict.ok
    assert verdict.scheme == "timestamped"
    bad_legacy = dict(good, **{sig.LEGACY_HEADER: "0" * 64})
    assert _verify(bad_legacy).ok  # the timestamped header decides when present


def test_rotated_secret_is_accepted_only_while_it_is_the_previous_one() -> None:
    headers = _headers(secret=OLD_SECRET, scheme="timestamped")
    verdict = _verify(headers, secrets=(SECRET, OLD_SECRET))
    assert verdict.ok
    assert verdict.secret_index == 1
    assert not _verify(headers, secrets=(SECRET,)).ok
    legacy = _headers(secret=OLD_SECRET, scheme="legacy")
    assert _verify(legacy, secrets=(SECRET, OLD_SECRET)).secret_index == 1


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        f"v1={'a' * 64}",  # no timestamp
        f"t={NOW}",  # no signature
        f"t=soon,v1={'a' * 64}",
        f"t={NOW},t={NOW},v1={'a' * 64}",
        f"t=-{NOW},v1={'a' * 64}",
        f"t={NOW};v1={'a' * 64}",
    ],
)
def test_malformed_timestamped_headers_fail(value: str) -> None:
    verdict = _verify({sig.TIMESTAMPED_HEADER: value})
    assert not verdict.ok
    assert verdict.reason == sig.MALFORMED


def test_several_v1_values_and_unknown_keys_are_read_by_key() -> None:
    good = _headers(scheme="timestamped")[sig.TIMESTAMPED_HEADER]
    t_part, v1_part = good.split(",")
    assert _verify({sig.TIMESTAMPED_HEADER: f"{t_part}, v0=x, v1={'0' * 64}, {v1_part}, v2=future"}).ok


def test_hex_case_whitespace_and_odd_characters() -> None:
    legacy = _headers(scheme="legacy")[sig.LEGACY_HEADER]
    assert _verify({sig.LEGACY_HEADER: f"  {legacy.upper()} "}).ok
    assert not _verify({sig.LEGACY_HEADER: "é" * 64}).ok  # non-ASCII: refused, not an exception
    assert not _verify({sig.LEGACY_HEADER: legacy[:-1]}).ok


def test_empty_secrets_never_verify() -> None:
    empty_signed = {sig.LEGACY_HEADER: hashlib.sha256(BODY).hexdigest()}  # the digest for an empty secret
    assert not sig.verify(BODY, empty_signed, [""], now=NOW).ok
    assert not sig.verify(BODY, empty_signed, [], now=NOW).ok


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(min_size=1, max_size=64),
    body=st.binary(max_size=2048),
    age=st.integers(min_value=-300, max_value=WINDOW),
    flip=st.integers(min_value=0),
)
def test_any_signed_body_verifies_and_any_changed_byte_does_not(secret: str, body: bytes, age: int, flip: int) -> None:
    for scheme in ("legacy", "timestamped"):
        headers = _headers(body, secret=secret, scheme=scheme, t=NOW - age)
        assert sig.verify(body, headers, [secret], now=NOW).ok
        if body:
            index = flip % len(body)
            changed = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
            assert not sig.verify(changed, headers, [secret], now=NOW).ok
