"""Keyed digests: normalisation, the HMAC construction, and the key read from Secrets Manager."""

from __future__ import annotations

import hashlib
import hmac
import json

import boto3
import pytest
from moto import mock_aws

from common.privacy.digest import (
    DIGEST_KEY_FIELD,
    SubjectDigester,
    digester_from_secret,
    normalise_email,
    normalise_phone,
)
from common.secret_cache import CachedSecret, SecretFormatError

KEY = b"k" * 64


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Jon@Doe.CA ", "jon@doe.ca"),
        ("kozakevich_k@example.com", "kozakevich_k@example.com"),
        ("a@b", "a@b"),
        ("", None),
        ("   ", None),
        ("not an e-mail", None),
        ("jon@", None),
        ("@doe.ca", None),
        ("jon@doe@ca", None),
        ("jon doe@ca", None),
        ("x" * 320 + "@a.b", None),
    ],
)
def test_normalise_email(raw: str, expected: str | None) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 (555) 625-1199", "+15556251199"),
        ("555-625-1199", "5556251199"),
        ("+16145550188", "+16145550188"),
        (" +44 20 7946 0958 ", "+442079460958"),
        ("555-555-BILL", "555555"),  # Shopify's sample: 6 digits is the least that counts
        ("12345", None),
        ("", None),
        ("phone", None),
        ("+" + "1" * 21, None),
        ("٣٣٣٣٣٣٣", None),  # other scripts' digits are not phone digits
    ],
)
def test_normalise_phone(raw: str, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


def test_subjects_are_hmac_sha256_over_kind_nul_value_in_lower_hex() -> None:
    digester = SubjectDigester(KEY)
    expected_email = hmac.new(KEY, b"email\x00jon@doe.ca", hashlib.sha256).hexdigest()
    expected_phone = hmac.new(KEY, b"phone\x00+15556251199", hashlib.sha256).hexdigest()
    assert digester.email(" JON@doe.ca") == f"email:{expected_email}"
    assert digester.phone("+1 (555) 625-1199") == f"phone:{expected_phone}"
    assert expected_email == expected_email.lower()
    assert len(expected_email) == 64


def test_unusable_values_have_no_subject() -> None:
    digester = SubjectDigester(KEY)
    assert digester.email("nobody") is None
    assert digester.phone("123") is None


def test_the_kind_and_the_key_separate_digests() -> None:
    digester = SubjectDigester(KEY)
    value = "1234567@x"  # both a plausible e-mail and 7 phone digits
    email_subject, phone_subject = digester.email(value), digester.phone(value)
    assert email_subject is not None
    assert phone_subject is not None
    assert email_subject.split(":")[1] != phone_subject.split(":")[1]
    assert SubjectDigester(b"another key").email(value) != email_subject
    # unkeyed SHA-256 (the first increment's scheme without salt) is not what the index holds
    assert email_subject.split(":")[1] != hashlib.sha256(b"email\x00" + value.encode()).hexdigest()


def test_the_key_is_never_shown() -> None:
    assert "k" * 8 not in repr(SubjectDigester(KEY))
    with pytest.raises(ValueError, match="empty"):
        SubjectDigester(b"")


@mock_aws
def test_the_digester_from_the_secret_uses_the_digest_key() -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    key = "A" * 20 + "b" * 44
    client.create_secret(Name="acme/dev/PrivacyDigestKey", SecretString=json.dumps({DIGEST_KEY_FIELD: key}))
    digester = digester_from_secret(CachedSecret(client, "acme/dev/PrivacyDigestKey"))
    assert digester.email("jon@doe.ca") == SubjectDigester(key.encode()).email("jon@doe.ca")


@mock_aws
@pytest.mark.parametrize("document", [{"other": "x" * 64}, {DIGEST_KEY_FIELD: "s3cr3tX"}, {DIGEST_KEY_FIELD: ""}])
def test_a_secret_without_a_usable_digest_key_is_refused(document: dict[str, str]) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name="s", SecretString=json.dumps(document))
    with pytest.raises(SecretFormatError) as raised:
        digester_from_secret(CachedSecret(client, "s"))
    assert "s3cr3tX" not in str(raised.value)  # the (too short) key is not shown
