"""What the erasure waits for, and what it deletes, outside the lake's objects: bulk download checkpoints
(live run: PrivacyStepBusy, then the run's parts; dead run: deleted, its uploads aborted) and dead-letter
queues whose messages someone holds."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from types import ModuleType

import pytest

from common.shopify.bulk_stream import BulkSplitter, LakeFile
from tests.unit.privacy.workflow.conftest import (
    BUCKET,
    DLQS,
    OTHER,
    PERSON,
    World,
    bulk_order_lines,
    checkpoint_blob,
    envelope,
    erase_all,
    jsonl_gz,
    order_payload,
    populate,
)
from tests.unit.privacy.workflow.test_erasure import person_hits, run

CHECKPOINT = "metadata/shopify/bulk/run=5000/checkpoints/step-00001.ckpt"
PART = "raw/shopify/bulk/orders/run=5000/part-00001.jsonl.gz"


def _written_at(world: World, key: str) -> object:
    return world.s3.head_object(Bucket=BUCKET, Key=key)["LastModified"]


def test_a_running_bulk_download_makes_the_erasure_wait_then_its_parts_are_erased(
    world: World, app: ModuleType
) -> None:
    populate(world)
    world.put(CHECKPOINT, checkpoint_blob(world.s3, "5000", bulk_order_lines(PERSON, 1001)), index=False)
    world.clock[0] = _written_at(world, CHECKPOINT) + timedelta(hours=1)  # type: ignore[operator]
    workflow = world.workflow(app)
    plan = workflow.handle({"step": "plan", "request_key": world.request()})
    with pytest.raises(app.PrivacyStepBusy, match="5000"):
        erase_all(workflow, plan["request_id"])
    assert type(app.PrivacyStepBusy("x")).__name__ == "PrivacyStepBusy"  # the name the state machine matches
    progress = workflow.work.progress(plan["request_id"])
    assert progress is not None
    assert progress.watched_runs == ["5000"]
    assert progress.current() == {"kind": "checkpoints"}
    assert progress.remaining == 1
    # Everything else is erased already; the checkpoint is untouched.
    assert [p for p, _ in person_hits(world) if "sqs" in p or "dynamodb" in p] == []
    assert len([v for k, v, _ in world.versions() if k == CHECKPOINT]) == 1

    # The run finishes: its part lands (the person's line in it), its checkpoint is deleted.
    world.put(PART, jsonl_gz(bulk_order_lines(PERSON, 1001) + bulk_order_lines(OTHER, 1002)), index=False)
    world.s3.delete_object(Bucket=BUCKET, Key=CHECKPOINT)
    answers = run(world, app, world.request())
    assert person_hits(world) == []
    lines = [json.loads(line) for line in gzip.decompress(world.current(PART)).splitlines()]
    assert [line.get("email") for line in lines if line["__typename"] == "Order"] == [None, OTHER.email]
    audit = json.loads(world.current(answers["finish"]["audit_key"]))
    assert audit["erasure"]["bulk_runs"] == [{"kind": "run", "run_id": "5000", "parts": 1, "added": 1}]
    assert audit["erasure"]["checkpoints"][0]["waited_for_runs"] == ["5000"]
    assert PART in {o["key"] for o in audit["erasure"]["objects"]}


def test_a_dead_runs_checkpoint_is_deleted_with_its_versions_and_its_uploads_aborted(
    world: World, app: ModuleType
) -> None:
    populate(world)
    upload = world.s3.create_multipart_upload(Bucket=BUCKET, Key=PART)["UploadId"]
    etag = world.s3.upload_part(Bucket=BUCKET, Key=PART, UploadId=upload, PartNumber=1, Body=b"x" * 1024)["ETag"]
    splitter = BulkSplitter(world.s3, BUCKET, "5000")
    encoded = [json.dumps(line).encode() for line in bulk_order_lines(PERSON, 1001)]
    splitter.feed(encoded, sum(len(line) + 1 for line in encoded))
    stream = splitter.streams["Order"]
    stream.files = [LakeFile(number=1, key=PART, upload_id=upload, parts={1: etag}, next_part=2)]
    stream.open_file = stream.files[0]
    world.put(CHECKPOINT, splitter.checkpoint(), index=False)
    world.put(CHECKPOINT, splitter.checkpoint(), index=False)  # a step repeated: a second version
    splitter.close()
    later = CHECKPOINT.replace("step-00001", "step-00002")
    world.put(later, checkpoint_blob(world.s3, "5000", bulk_order_lines(OTHER, 1002)), index=False)
    world.clock[0] = _written_at(world, later) + timedelta(hours=25)  # type: ignore[operator]

    answers = run(world, app, world.request())
    assert person_hits(world) == []
    assert [k for k, _, _ in world.versions("metadata/shopify/bulk/run=5000/")] == [later]
    assert world.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    sweep = json.loads(world.current(answers["finish"]["audit_key"]))["erasure"]["checkpoints"][0]
    assert [d["key"] for d in sweep["versions_deleted"] if "5000" in d["key"]] == [CHECKPOINT, CHECKPOINT]
    assert sweep["aborted_uploads"] == 1
    assert sweep["live_runs"] == []


def test_a_finished_runs_checkpoint_versions_of_other_customers_stay(world: World, app: ModuleType) -> None:
    populate(world)
    other = "metadata/shopify/bulk/run=4098/checkpoints/step-00001.ckpt"
    before = [v for k, v, _ in world.versions() if k == other]
    run(world, app, world.request())
    assert [v for k, v, _ in world.versions() if k == other] == before


def test_a_dead_letter_queue_whose_messages_are_held_makes_the_erasure_wait(world: World, app: ModuleType) -> None:
    populate(world)
    url = world.queue_url(DLQS[1])
    world.dead_letter(DLQS[1], envelope("fulfillments/create", order_payload(PERSON), "evt-held"))
    held = world.sqs.receive_message(QueueUrl=url, VisibilityTimeout=300)["Messages"]  # an operator's redrive
    workflow = world.workflow(app)
    plan = workflow.handle({"step": "plan", "request_key": world.request()})
    with pytest.raises(app.PrivacyStepBusy, match=DLQS[1]):
        erase_all(workflow, plan["request_id"])
    progress = workflow.work.progress(plan["request_id"])
    assert progress is not None
    assert progress.current() == {"kind": "queue", "name": DLQS[1]}
    world.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=held[0]["ReceiptHandle"], VisibilityTimeout=0)
    run(world, app, world.request())
    assert person_hits(world) == []
