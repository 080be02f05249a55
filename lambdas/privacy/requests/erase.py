"""The ``erase`` step: run the plan's tasks from the saved cursor until done or out of time.

Tasks, in order (``work.Plan.tasks``): every lake location (every version of the key,
``objects.erase_key``), every hot-store item (``stores.HotStores.erase``), every
dead-letter queue (``queues.DeadLetterQueues.sweep``), the bulk checkpoints
(``checkpoints.CheckpointSweeper``), then the lake parts of any bulk run the sweep had to wait
for (added as object tasks once the run is finished).

Progress is saved after each task, so a step that is stopped (time budget), fails, or is busy
(``PrivacyStepBusy``) resumes at the task it was on; each task is idempotent, so redoing a task that was
half done converges to the same end state. At least one task is done per invocation, whatever the
budget says, so the state machine's loop always moves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from common.observability import logger
from common.privacy.digest import SubjectDigester
from common.privacy.person import Person
from common.privacy.redact import redact_document
from common.timeutil import iso_utc
from privacy.requests import work
from privacy.requests.checkpoints import CheckpointSweeper, run_part_keys
from privacy.requests.errors import PrivacyStepBusy
from privacy.requests.objects import erase_key
from privacy.requests.queues import DeadLetterQueues
from privacy.requests.stores import HotStores

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class Eraser:
    s3: S3Client
    bucket: str
    stores: HotStores
    queues: DeadLetterQueues
    checkpoints: CheckpointSweeper

    def run(
        self,
        plan: work.Plan,
        progress: work.Progress,
        *,
        digester: SubjectDigester,
        clock: Callable[[], datetime],
        should_stop: Callable[[], bool],
        save: Callable[[work.Progress], None],
    ) -> work.Progress:
        """Do tasks until none is left or ``should_stop()`` (checked before each task after the first)."""
        done = 0
        while (task := progress.current()) is not None:
            if done and should_stop():
                break
            result = self._task(task, plan.person, progress, digester, clock, save)
            progress.done(result)
            progress.updated_at = iso_utc(clock())
            save(progress)
            done += 1
        logger.info("erase step", extra={"tasks_done": done, "remaining": progress.remaining})
        return progress

    def _task(
        self,
        task: dict[str, Any],
        person: Person,
        progress: work.Progress,
        digester: SubjectDigester,
        clock: Callable[[], datetime],
        save: Callable[[work.Progress], None],
    ) -> dict[str, Any]:
        kind = task["kind"]
        if kind == work.OBJECT:
            return erase_key(self.s3, self.bucket, str(task["key"]), person, digester)
        if kind == work.ITEM:
            return self.stores.erase(work.ItemRef.from_json(task), erased_at=iso_utc(clock()))
        if kind == work.QUEUE:
            return self.queues.sweep(str(task["name"]), lambda document: _redacted(document, person, digester))
        if kind == work.CHECKPOINTS:
            return self._checkpoints(person, progress, digester, clock, save)
        if kind == work.RUN:
            keys = run_part_keys(self.s3, self.bucket, str(task["run_id"]))
            return {"kind": work.RUN, "run_id": task["run_id"], "parts": len(keys), "added": progress.add_objects(keys)}
        raise ValueError(f"unknown task kind {kind!r} in the progress document")

    def _checkpoints(
        self,
        person: Person,
        progress: work.Progress,
        digester: SubjectDigester,
        clock: Callable[[], datetime],
        save: Callable[[work.Progress], None],
    ) -> dict[str, Any]:
        sweep = self.checkpoints.sweep(person, digester, now=clock())
        carried = progress.carried
        result = sweep.to_json()
        result["versions_checked"] += int(carried.get("versions_checked", 0))
        result["versions_deleted"] = list(carried.get("versions_deleted", [])) + result["versions_deleted"]
        result["aborted_uploads"] += int(carried.get("aborted_uploads", 0))
        result["waited_for_runs"] = sorted(set(progress.watched_runs) | set(sweep.live_runs))
        if sweep.live_runs:
            progress.watched_runs = result["waited_for_runs"]
            progress.carried = result
            progress.updated_at = iso_utc(clock())
            save(progress)
            logger.info("bulk download running: erasure waits for it", extra={"runs": sweep.live_runs})
            runs = ", ".join(sweep.live_runs)
            raise PrivacyStepBusy(f"bulk download run(s) {runs} still running: their parts are erased once finished")
        known = {task.get("run_id") for task in progress.tasks if task["kind"] == work.RUN}
        progress.tasks.extend({"kind": work.RUN, "run_id": run} for run in progress.watched_runs if run not in known)
        return result


def _redacted(document: Any, person: Person, digester: SubjectDigester) -> Any | None:
    """The redacted document when the person is in it, else None (the message stays as it is)."""
    redacted, redaction = redact_document(document, person, digester)
    return redacted if redaction.changed else None
