"""What each SNS topic of the local cloud delivered, kept as a mailbox (one JSON line per message).

On AWS an alerts topic reaches people through its subscriptions (e-mail, chat, a pager); locally
nothing leaves the machine, so every message a topic accepts is also appended to
``<state dir>/mailbox/<topic name>.jsonl``: when it was published, its id, subject and body, its
attributes, and the subscriptions it was delivered to. ``platformctl alerts --env local`` reads the
alerts topic's mailbox. The subscriptions themselves still receive the message as moto delivers it
(an SQS queue subscribed to the topic gets SNS's notification envelope).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MAILBOX_FOLDER = "mailbox"
_state: dict[str, Any] = {"folder": None}
_originals: dict[str, Any] = {}
_lock = threading.Lock()
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def mailbox_path(folder: Path, topic_arn: str) -> Path:
    return folder / f"{_SAFE.sub('_', topic_arn.rsplit(':', 1)[-1])}.jsonl"


def _record(topic: Any, message_id: str, message: str, subject: str | None, attributes: Any) -> None:
    folder: Path | None = _state["folder"]
    if folder is None:
        return
    subscriptions, _ = topic.sns_backend.list_subscriptions_by_topic(topic_arn=topic.arn)
    entry = {
        "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "MessageId": message_id,
        "TopicArn": topic.arn,
        "Subject": subject,
        "Message": message,
        "MessageAttributes": attributes or {},
        "DeliveredTo": [{"Protocol": s.protocol, "Endpoint": s.endpoint} for s in subscriptions],
    }
    line = json.dumps(entry, default=str) + "\n"
    with _lock:
        folder.mkdir(parents=True, exist_ok=True)
        with mailbox_path(folder, topic.arn).open("a", encoding="utf-8") as handle:
            handle.write(line)


def _publish(self: Any, message: str, subject: str | None = None, message_attributes: Any = None, **kwargs: Any) -> str:
    message_id: str = _originals["publish"](
        self, message, subject=subject, message_attributes=message_attributes, **kwargs
    )
    try:
        _record(self, message_id, message, subject, message_attributes)
    except Exception:  # the topic delivered; a mailbox that cannot be written must not fail the publish
        logger.exception("mailbox of %s could not be written", getattr(self, "arn", "?"))
    return message_id


def install(folder: Path) -> None:
    from moto.sns.models import Topic

    _state["folder"] = folder
    if "publish" not in _originals:
        _originals["publish"] = Topic.publish
        setattr(Topic, "publish", _publish)  # noqa: B010 - a deliberate patch of moto


def uninstall() -> None:
    _state["folder"] = None


def read(path: Path) -> Iterator[dict[str, Any]]:
    """The messages of one mailbox, oldest first (a torn last line is skipped)."""
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield entry
