"""Keyed digests of e-mails and phones: the ``email:`` and ``phone:`` subjects of the privacy index.

A subject is HMAC-SHA256(key, kind || 0x00 || normalised value) in lower-case hex. The key is held apart
from everything that stores digests (Secrets Manager ``<brand>/<env>/PrivacyDigestKey``, JSON key
``digest_key``), so a digest read from the index or a request record cannot be tested against guessed
values by whoever reads it. The key must never change: every digest in the index was made with it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import TYPE_CHECKING

from common.secret_cache import SecretFormatError

if TYPE_CHECKING:
    from common.secret_cache import CachedSecret

DIGEST_KEY_FIELD = "digest_key"
EMAIL = "email"
PHONE = "phone"
MIN_SECRET_KEY_CHARS = 32
MIN_PHONE_DIGITS = 6
MAX_EMAIL_CHARS = 320
MAX_PHONE_DIGITS = 20

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_NOT_DIGIT = re.compile(r"[^0-9]")


def normalise_email(value: str) -> str | None:
    """Trimmed and lower-cased; None unless it looks like ``a@b``."""
    candidate = value.strip().lower()
    if len(candidate) > MAX_EMAIL_CHARS or not _EMAIL.match(candidate):
        return None
    return candidate


def normalise_phone(value: str) -> str | None:
    """The digits, with a leading ``+`` when there was one: '+1 (555) 625-1199' -> '+15556251199'.

    None with fewer than 6 digits (not a phone number) or more than 20.
    """
    digits = _NOT_DIGIT.sub("", value)
    if not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        return None
    return ("+" if value.strip().startswith("+") else "") + digits


class SubjectDigester:
    """Turns e-mails and phones into keyed subjects."""

    def __init__(self, key: bytes) -> None:
        if not key:
            raise ValueError("the digest key is empty")
        self._key = key

    def digest(self, kind: str, normalised: str) -> str:
        """Lower-case hex of HMAC-SHA256(key, kind || 0x00 || normalised)."""
        message = kind.encode("ascii") + b"\x00" + normalised.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def email(self, value: str) -> str | None:
        normalised = normalise_email(value)
        return None if normalised is None else f"{EMAIL}:{self.digest(EMAIL, normalised)}"

    def phone(self, value: str) -> str | None:
        normalised = normalise_phone(value)
        return None if normalised is None else f"{PHONE}:{self.digest(PHONE, normalised)}"

    def __repr__(self) -> str:  # never the key
        return "SubjectDigester(<key>)"


def digester_from_secret(cached: CachedSecret) -> SubjectDigester:
    """The digester keyed with the secret's ``digest_key`` (its UTF-8 bytes, as CloudFormation generated it)."""
    key = cached.key(DIGEST_KEY_FIELD)
    if len(key) < MIN_SECRET_KEY_CHARS:
        raise SecretFormatError(f"the privacy digest key is shorter than {MIN_SECRET_KEY_CHARS} characters")
    return SubjectDigester(key.encode("utf-8"))
