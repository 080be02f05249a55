"""Where the Triple Whale summary job writes: deterministic lake keys and the durable watermark.

- ``raw/triplewhale/summary-page/dt=<day>/<shop-domain>.json``: one object per shop and day, named only
  by them, so a re-run or a replay of a day overwrites that day's object instead of adding a second.
- ``quarantine/triplewhale/dt=<run date>/<reason>/<shop-domain>/<day>/<sha256>.json``: a 200 that is not
  a summary page, one object per shop, day and body.
- ``metadata/triplewhale/summary-page/<shop-domain>/watermark.json``: the newest complete day up to which
  every day was handled, in order (``{"watermark": "YYYY-MM-DD", ...}``).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from common.lake import safe_segment
from common.timeutil import iso_utc

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SOURCE = "triplewhale"
DATASET = "summary-page"
RAW_PREFIX = f"raw/{SOURCE}/{DATASET}/"
METADATA_PREFIX = f"metadata/{SOURCE}/{DATASET}/"


def summary_key(day: date, shop_domain: str) -> str:
    return f"{RAW_PREFIX}dt={day.isoformat()}/{safe_segment(shop_domain, 'shop domain')}.json"


def quarantine_folders(shop_domain: str, day: date) -> tuple[str, str]:
    """The folders of a bad answer's quarantine key, between its reason and its hash: days answered with
    the same bad body are kept apart, and a re-run of a day that gets the same body overwrites its object."""
    return shop_domain, day.isoformat()


def watermark_key(shop_domain: str) -> str:
    return f"{METADATA_PREFIX}{safe_segment(shop_domain, 'shop domain')}/watermark.json"


def read_watermark(s3: S3Client, bucket: str, shop_domain: str) -> date | None:
    """The watermark day, or None before the first complete run.

    Asked as a listing first: a role may list the prefix without learning from GetObject's answer that
    a key is missing (S3 answers 403 then, not 404).
    """
    key = watermark_key(shop_domain)
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    if not any(item.get("Key") == key for item in listing.get("Contents", [])):
        return None
    document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return date.fromisoformat(str(document["watermark"]))


def advance_watermark(
    s3: S3Client,
    bucket: str,
    shop_domain: str,
    day: date,
    *,
    window_first: date,
    now: datetime,
    run: dict[str, Any],
) -> date:
    """Move the watermark to ``day`` unless it is already there or later, or unless the run's window starts
    after the day following it (a later backfill would leave the days between never fetched); the
    watermark after."""
    current = read_watermark(s3, bucket, shop_domain)
    if current is not None and (current >= day or window_first > current + timedelta(days=1)):
        return current
    document = {"watermark": day.isoformat(), "shop_domain": shop_domain, "updated_at": iso_utc(now), "run": run}
    s3.put_object(
        Bucket=bucket,
        Key=watermark_key(shop_domain),
        Body=json.dumps(document, indent=2).encode(),
        ContentType="application/json",
    )
    return day
