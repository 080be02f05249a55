"""The streaming splitter: routing by type, real JSONL fixtures, shuffled children, resumable steps that
write the same bytes as one pass, reconnects, expired URLs and retried final steps."""

from __future__ import annotations

import gzip
import json
import random
import secrets
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from common.shopify.bulk import ResultUrlPolicy, describe_origin
from common.shopify.bulk_stream import (
    UNTYPED,
    BulkSplitter,
    ResultReader,
    StreamSettings,
    TypeRouter,
    folder_for_type,
    run_step,
)
from platformctl.simulators.shopify_admin import ResultFile, ShopifyAdminSimulator, UrlGrant, write_result
from tests.conftest import shared_fixture_path
from tests.unit.shopify_bulk.conftest import BUCKET, fixture_lines, read_gzip_parts

SMALL = StreamSettings(level=6, member_bytes=4096, part_bytes=16 * 1024, file_target_bytes=48 * 1024)
BULK_FIXTURES = (
    "shopify/bulk/products_variants__shopify-docs.jsonl",
    "shopify/bulk/fulfillment_orders__airbyte.jsonl",
    "shopify/bulk/collections__airbyte.jsonl",
    "shopify/bulk/inventory_levels__airbyte.jsonl",
)


# ------------------------------------------------------------------------------------------ helpers


def _reader(url: str, **options: Any) -> ResultReader:
    """A reader of a local test server's result: its http://127.0.0.1 origin is allowed, as locally."""
    return ResultReader(requests.Session(), url, policy=ResultUrlPolicy.from_setting(describe_origin(url)), **options)


def serve(simulator: ShopifyAdminSimulator, data: bytes, *, cut_after: int | None = None) -> str:
    """A result URL on the simulator for ``data`` (Range support, expiry and cuts like a bulk result)."""
    path = simulator.state.work_dir / f"served-{secrets.token_hex(4)}.jsonl"
    path.write_bytes(data)
    token = secrets.token_urlsafe(8)
    simulator.state.urls[token] = UrlGrant("test", ResultFile(path, len(data), 0, 0), time.time() + 3600, cut_after)
    return f"{simulator.url}/_results/{token}/result.jsonl"


def download(
    s3: Any,
    url: Callable[[], str],
    run_id: str,
    *,
    settings: StreamSettings = SMALL,
    step_bytes: int | None = None,
) -> tuple[dict[str, Any], BulkSplitter, int]:
    """What the download Lambda does across steps: a fresh splitter per step, restored from a checkpoint."""
    blob: bytes | None = None
    steps = 0
    while True:
        splitter = BulkSplitter.restore(s3, BUCKET, blob) if blob else BulkSplitter(s3, BUCKET, run_id, settings)
        reader = _reader(url(), chunk_bytes=64 * 1024, sleep=lambda _: None)
        outcome = run_step(reader, splitter, lambda n: step_bytes is not None and n >= step_bytes)
        steps += 1
        if outcome == "eof":
            summary = splitter.finish()
            splitter.close()
            return summary, splitter, steps
        assert outcome == "budget", outcome
        blob = splitter.checkpoint()
        splitter.close()
        blob = bytes(blob)


def objects_by_folder(s3: Any, run_id: str) -> dict[str, list[tuple[str, bytes]]]:
    """Every part of a run, per type folder, as (part file name, raw gzip bytes), in key order."""
    found: dict[str, list[tuple[str, bytes]]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="raw/shopify/bulk/"):
        for item in page.get("Contents", []):
            key = item["Key"]
            if f"/run={run_id}/" in key:
                folder = key.split("/")[3]
                found.setdefault(folder, []).append(
                    (key.rsplit("/", 1)[1], s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
                )
    return {folder: sorted(parts) for folder, parts in found.items()}


def type_of(line: bytes) -> str:
    """The oracle: a line's object type by a full JSON parse, independent of ``TypeRouter``'s shortcuts."""
    document = json.loads(line)
    if "__typename" in document:
        return str(document["__typename"])
    return str(document["id"]).split("/")[3]


def expected_by_type(lines: list[bytes]) -> dict[str, bytes]:
    """Each type folder's lines in file order, grouped by the oracle (not by the code under test)."""
    grouped: dict[str, list[bytes]] = {}
    for line in lines:
        grouped.setdefault(type_of(line), []).append(line)
    return {folder_for_type(name): b"".join(x + b"\n" for x in group) for name, group in grouped.items()}


def decompressed(parts: list[tuple[str, bytes]]) -> bytes:
    return b"".join(gzip.decompress(body) for _, body in parts)


# ------------------------------------------------------------------------------------------ routing


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"__typename":"Order","id":"gid:\\/\\/shopify\\/Order\\/1"}', "Order"),
        (b'{"id":"gid://shopify/ProductVariant/19435458986123","title":"52","__parentId":"x"}', "ProductVariant"),
        (b'{"id":"gid:\\/\\/shopify\\/InventoryLevel\\/9?inventory_item_id=4","available":15}', "InventoryLevel"),
        # __typename not first: the full parse finds it
        (b'{"id":"gid://shopify/LineItem/7","__typename":"LineItem"}', "LineItem"),
        # a nested __typename and id must not be taken for the line's own
        (
            b'{"id":"gid://shopify/Order/5","customer":{"__typename":"Customer","id":"gid://shopify/Customer/9"}}',
            "Order",
        ),
        (b'{"title":"x","customer":{"id":"gid://shopify/Customer/9"}}', UNTYPED),
        (
            b'{"__typename":"DiscountCodeApplication","code":"A","__parentId":"gid://shopify/Order/1"}',
            "DiscountCodeApplication",
        ),
        (b"not json", UNTYPED),
        (b'["a list"]', UNTYPED),
    ],
)
def test_router_finds_the_type_of_a_line(line: bytes, expected: str) -> None:
    assert TypeRouter().route(line) == expected


def test_router_parses_only_lines_without_a_leading_type() -> None:
    router = TypeRouter()
    router.route(b'{"__typename":"Order","id":"1"}')
    router.route(b'{"id":"gid://shopify/Order/2"}')
    assert router.parsed == 0
    router.route(b'{"name":"x","__typename":"Order"}')
    assert router.parsed == 1


@pytest.mark.parametrize(
    ("name", "folder"),
    [("Order", "order"), ("LineItem", "line_item"), ("DiscountCodeApplication", "discount_code_application"),
     ("FulfillmentOrderLineItem", "fulfillment_order_line_item"), ("MoneyV2", "money_v2"), (UNTYPED, UNTYPED)],
)  # fmt: skip
def test_type_folders_are_snake_case(name: str, folder: str) -> None:
    assert folder_for_type(name) == folder


def test_settings_refuse_impossible_sizes() -> None:
    with pytest.raises(ValueError, match="gzip level"):
        StreamSettings(level=12)
    with pytest.raises(ValueError, match="part_bytes"):
        StreamSettings(member_bytes=10, part_bytes=5)
    with pytest.raises(ValueError, match="file_target_bytes"):
        StreamSettings(part_bytes=10, member_bytes=1, file_target_bytes=10 * 20_000)


# ------------------------------------------------------------------------------------ real fixtures


@pytest.mark.parametrize("relative", BULK_FIXTURES)
def test_real_bulk_files_split_per_type_with_parents_kept(
    relative: str, s3: Any, simulator: ShopifyAdminSimulator
) -> None:
    path = shared_fixture_path(relative)
    lines = fixture_lines(path)
    url = serve(simulator, path.read_bytes())
    summary, splitter, _ = download(s3, lambda: url, "100")
    assert splitter.objects == len(lines)
    assert splitter.roots == sum(b'"__parentId"' not in line for line in lines)
    assert splitter.router.untyped == 0
    written = objects_by_folder(s3, "100")
    expected = expected_by_type(lines)
    assert {folder: decompressed(parts) for folder, parts in written.items()} == expected
    for entry in summary.values():
        for part in entry["parts"]:
            assert part["key"].startswith(entry["prefix"])
            assert part["key"].endswith(".jsonl.gz")
    children = [json.loads(x) for x in b"".join(decompressed(p) for p in written.values()).splitlines()]
    parents = {c["__parentId"] for c in children if "__parentId" in c}
    assert parents <= {c.get("id") for c in children}, "a child lost the parent it points at"


def test_fulfillment_orders_fixture_has_three_levels(s3: Any, simulator: ShopifyAdminSimulator) -> None:
    path = shared_fixture_path("shopify/bulk/fulfillment_orders__airbyte.jsonl")
    download(s3, lambda: serve(simulator, path.read_bytes()), "101")
    assert set(objects_by_folder(s3, "101")) == {
        "order",
        "fulfillment_order",
        "fulfillment_order_line_item",
        "fulfillment_order_merchant_request",
    }


# ------------------------------------------------------------------------------- shuffled children


def shop_lines(tmp_path: Path, orders: int, seed: int = 7) -> list[bytes]:
    result = write_result(tmp_path / "shop.jsonl", seed=seed, orders=orders, first=0, last=orders)
    return fixture_lines(result.path)


def test_children_far_from_their_parents_are_routed_all_the_same(
    tmp_path: Path, s3: Any, simulator: ShopifyAdminSimulator
) -> None:
    lines = shop_lines(tmp_path, 120)
    random.Random(3).shuffle(lines)  # children before parents, far apart: nothing may depend on order
    first_child = next(i for i, line in enumerate(lines) if b'"__parentId"' in line)
    parent_id = json.loads(lines[first_child])["__parentId"]
    parent_at = next(i for i, line in enumerate(lines) if json.loads(line).get("id") == parent_id)
    assert parent_at > first_child + 1, "the shuffle should put a child well before its parent"
    download(s3, lambda: serve(simulator, b"".join(x + b"\n" for x in lines)), "102")
    written = objects_by_folder(s3, "102")
    assert {folder: decompressed(parts) for folder, parts in written.items()} == expected_by_type(lines)
    assert {"order", "line_item", "discount_code_application"} <= set(written)


@pytest.mark.parametrize("relative", BULK_FIXTURES)
def test_real_bulk_files_with_children_before_their_parents(
    relative: str, s3: Any, simulator: ShopifyAdminSimulator
) -> None:
    """groupObjects: false - the real files reversed, so every child comes before the parent it names."""
    lines = fixture_lines(shared_fixture_path(relative))[::-1]
    download(s3, lambda: serve(simulator, b"".join(x + b"\n" for x in lines)), "105")
    written = objects_by_folder(s3, "105")
    assert {folder: decompressed(parts) for folder, parts in written.items()} == expected_by_type(lines)
    children = [json.loads(x) for x in lines if b'"__parentId"' in x]
    assert children, "the fixture has children"
    for child in children:
        parent_folder = folder_for_type(child["__parentId"].split("/")[3])
        kept = [json.loads(x) for x in decompressed(written[parent_folder]).splitlines()]
        assert child["__parentId"] in {p["id"] for p in kept}, "a child's parent is in its own type's parts"


def test_a_last_line_without_newline_and_blank_lines(s3: Any, simulator: ShopifyAdminSimulator) -> None:
    data = b'{"__typename":"Order","id":"gid://shopify/Order/1"}\n\n{"__typename":"Order","id":"gid://shopify/Order/2"}'
    _, splitter, _ = download(s3, lambda: serve(simulator, data), "103")
    assert splitter.objects == 2
    assert splitter.offset == len(data)
    parts = objects_by_folder(s3, "103")["order"]
    assert decompressed(parts).splitlines() == [line for line in data.split(b"\n") if line]


def test_untyped_lines_are_kept_not_dropped(s3: Any, simulator: ShopifyAdminSimulator) -> None:
    data = b'{"__typename":"Order","id":"gid://shopify/Order/1"}\n{"oops": true}\nnot json at all\n'
    _, splitter, _ = download(s3, lambda: serve(simulator, data), "104")
    assert splitter.router.untyped == 2
    assert decompressed(objects_by_folder(s3, "104")[UNTYPED]) == b'{"oops": true}\nnot json at all\n'


# ------------------------------------------------------------------------------- resumable steps


@pytest.fixture
def big_shop(tmp_path: Path) -> list[bytes]:
    return shop_lines(tmp_path, 700)  # ~2.7 MB: many members, parts and files with SMALL settings


def test_many_steps_write_the_same_bytes_as_one_pass(
    big_shop: list[bytes], s3: Any, simulator: ShopifyAdminSimulator
) -> None:
    data = b"".join(line + b"\n" for line in big_shop)
    url = serve(simulator, data)
    one_summary, one, one_steps = download(s3, lambda: url, "200")
    many_summary, many, many_steps = download(s3, lambda: url, "201", step_bytes=150_000)
    assert one_steps == 1
    assert many_steps > 10
    reference, resumed = objects_by_folder(s3, "200"), objects_by_folder(s3, "201")
    assert reference == resumed  # same part files, byte for byte
    assert sum(len(parts) for parts in reference.values()) > len(reference), "expected several files per type"
    assert {folder: decompressed(parts) for folder, parts in resumed.items()} == expected_by_type(big_shop)
    assert many.objects == one.objects == len(big_shop)
    assert many.offset == len(data)
    assert [e["objects"] for e in many_summary.values()] == [e["objects"] for e in one_summary.values()]


def test_a_retried_final_step_after_completion_changes_nothing(
    big_shop: list[bytes], s3: Any, simulator: ShopifyAdminSimulator
) -> None:
    """The final step completes the uploads, then its answer is lost and Step Functions runs it again."""
    url = serve(simulator, b"".join(line + b"\n" for line in big_shop))
    splitter = BulkSplitter(s3, BUCKET, "300", SMALL)
    assert run_step(_reader(url), splitter, lambda n: n >= 1_000_000) == "budget"
    blob = splitter.checkpoint()
    splitter.close()
    first = BulkSplitter.restore(s3, BUCKET, blob)
    assert run_step(_reader(url), first, lambda n: False) == "eof"
    first.finish()
    before = objects_by_folder(s3, "300")
    again = BulkSplitter.restore(s3, BUCKET, blob)  # the same input as the lost attempt
    assert run_step(_reader(url), again, lambda n: False) == "eof"
    again.finish()
    assert objects_by_folder(s3, "300") == before
    assert again.objects == len(big_shop)


def test_a_failed_middle_step_is_redone_from_its_checkpoint(
    big_shop: list[bytes], s3: Any, simulator: ShopifyAdminSimulator
) -> None:
    """A step dies after uploading parts (timeout, crash); its retry from the same checkpoint converges."""
    data = b"".join(line + b"\n" for line in big_shop)
    url = serve(simulator, data)
    download(s3, lambda: url, "400")
    reference = objects_by_folder(s3, "400")
    splitter = BulkSplitter(s3, BUCKET, "401", SMALL)
    run_step(_reader(url), splitter, lambda n: n >= 500_000)
    blob = splitter.checkpoint()
    splitter.close()
    doomed = BulkSplitter.restore(s3, BUCKET, blob)
    run_step(_reader(url), doomed, lambda n: n >= 900_000)
    doomed.uploader.drain()  # parts of the doomed attempt reached S3; then it died without a checkpoint
    doomed.close()
    retry = BulkSplitter.restore(s3, BUCKET, blob)
    assert run_step(_reader(url), retry, lambda n: n >= 300_000) == "budget"
    blob = retry.checkpoint()
    retry.close()
    last = BulkSplitter.restore(s3, BUCKET, blob)
    assert run_step(_reader(url), last, lambda n: False) == "eof"
    last.finish()
    assert objects_by_folder(s3, "401") == reference


def test_a_checkpoint_carries_its_settings(s3: Any) -> None:
    splitter = BulkSplitter(
        s3, BUCKET, "500", StreamSettings(level=1, member_bytes=100, part_bytes=200, file_target_bytes=400)
    )
    splitter.feed([b'{"__typename":"Order","id":"1"}'], 33)
    restored = BulkSplitter.restore(s3, BUCKET, splitter.checkpoint())
    assert restored.settings == splitter.settings
    assert restored.offset == 33
    assert restored.streams["Order"].lines == bytearray(b'{"__typename":"Order","id":"1"}\n')
    with pytest.raises(ValueError, match="truncated"):
        BulkSplitter.restore(s3, BUCKET, splitter.checkpoint() + b"x")
    with pytest.raises(ValueError, match="not a bulk download checkpoint"):
        BulkSplitter.restore(s3, BUCKET, b"garbage")


# ---------------------------------------------------------------------------------- HTTP troubles


def test_a_dropped_connection_resumes_with_range(
    big_shop: list[bytes], s3: Any, simulator: ShopifyAdminSimulator
) -> None:
    data = b"".join(line + b"\n" for line in big_shop)
    download(s3, lambda: serve(simulator, data), "600")
    simulator.state.configure(cut_after_bytes=700_001)
    url = serve(simulator, data)
    splitter = BulkSplitter(s3, BUCKET, "601", SMALL)
    reader = _reader(url, chunk_bytes=64 * 1024, sleep=lambda _: None)
    assert run_step(reader, splitter, lambda n: False) == "eof"
    splitter.finish()
    assert reader.reconnects >= 1
    assert simulator.state.counters["range_requests"] >= 1
    assert objects_by_folder(s3, "601") == objects_by_folder(s3, "600")


def test_an_expired_url_stops_the_step_at_a_line_end(
    big_shop: list[bytes], s3: Any, simulator: ShopifyAdminSimulator
) -> None:
    data = b"".join(line + b"\n" for line in big_shop)
    download(s3, lambda: serve(simulator, data), "700")
    expiring = serve(simulator, data, cut_after=800_000)
    splitter = BulkSplitter(s3, BUCKET, "701", SMALL)
    reader = _reader(expiring, chunk_bytes=64 * 1024, sleep=lambda _: None)
    outcome = run_step(reader, splitter, lambda n: False)
    assert outcome == "url_expired"
    assert 700_000 < splitter.offset <= 800_000
    assert data[splitter.offset - 1 : splitter.offset] == b"\n"
    restored = BulkSplitter.restore(s3, BUCKET, splitter.checkpoint())
    fresh = serve(simulator, data)  # what poll hands out after the refresh
    assert run_step(_reader(fresh), restored, lambda n: False) == "eof"
    restored.finish()
    assert objects_by_folder(s3, "701") == objects_by_folder(s3, "700")


class _IgnoresRange(BaseHTTPRequestHandler):
    data = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.data)))
        self.end_headers()
        self.wfile.write(self.data)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def range_ignoring_server() -> Iterator[tuple[str, type[_IgnoresRange]]]:
    handler = type("Handler", (_IgnoresRange,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/result.jsonl", handler
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_ignores_range_is_skipped_forward(
    range_ignoring_server: tuple[str, type[_IgnoresRange]], s3: Any
) -> None:
    url, handler = range_ignoring_server
    lines = [b'{"__typename":"Order","id":"gid://shopify/Order/%d"}' % i for i in range(20_000)]
    handler.data = b"".join(line + b"\n" for line in lines)
    summary, splitter, steps = download(s3, lambda: url, "800", step_bytes=20_000)
    assert steps > 10
    assert splitter.objects == 20_000
    assert decompressed(objects_by_folder(s3, "800")["order"]) == handler.data
    assert summary["Order"]["objects"] == 20_000


class _GzipsWhenAllowed(BaseHTTPRequestHandler):
    """A store that sends the object gzip-encoded to a client that accepts gzip (and then counts Range and
    Content-Length in compressed bytes), and as stored to one that asks for identity."""

    data = b""
    encodings: list[str] = []

    def do_GET(self) -> None:
        accepted = self.headers.get("Accept-Encoding", "")
        self.encodings.append(accepted)
        body = gzip.compress(self.data) if "gzip" in accepted else self.data
        start = int(self.headers.get("Range", "bytes=0-")[6:].rstrip("-") or 0)
        self.send_response(206 if start else 200)
        if "gzip" in accepted:
            self.send_header("Content-Encoding", "gzip")
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args: Any) -> None:
        return None


def test_the_result_is_read_as_stored_never_content_encoded(s3: Any) -> None:
    handler = type("Handler", (_GzipsWhenAllowed,), {"encodings": []})
    lines = [
        b'{"__typename":"Order","id":"gid://shopify/Order/%d","note":"%s"}' % (i, b"x" * (i % 50))
        for i in range(30_000)
    ]
    handler.data = b"".join(line + b"\n" for line in lines)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/result.jsonl"
        _, splitter, steps = download(s3, lambda: url, "850", step_bytes=300_000)
    finally:
        server.shutdown()
        server.server_close()
    assert steps > 3
    assert set(handler.encodings) == {"identity"}
    assert splitter.offset == len(handler.data)
    assert decompressed(objects_by_folder(s3, "850")["order"]) == handler.data


def test_parts_are_gzip_files_any_reader_can_open(s3: Any, simulator: ShopifyAdminSimulator, tmp_path: Path) -> None:
    lines = shop_lines(tmp_path, 200)
    summary, _, _ = download(s3, lambda: serve(simulator, b"".join(x + b"\n" for x in lines)), "900")
    keys = [part["key"] for entry in summary.values() for part in entry["parts"]]
    for key in keys:
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        with gzip.GzipFile(fileobj=__import__("io").BytesIO(body)) as handle:
            assert all(json.loads(line) for line in handle)
    assert sorted(read_gzip_parts(s3, keys).splitlines()) == sorted(lines)


def test_member_boundaries_do_not_depend_on_how_lines_arrive(tmp_path: Path, s3: Any) -> None:
    lines = shop_lines(tmp_path, 150)
    one_by_one = BulkSplitter(s3, BUCKET, "950", SMALL)
    for line in lines:
        one_by_one.feed([line], len(line) + 1)
    in_blocks = BulkSplitter(s3, BUCKET, "951", SMALL)
    for start in range(0, len(lines), 37):
        block = lines[start : start + 37]
        in_blocks.feed(block, sum(len(x) + 1 for x in block))
    for splitter in (one_by_one, in_blocks):
        splitter.finish()
        splitter.close()
    first, second = objects_by_folder(s3, "950"), objects_by_folder(s3, "951")
    assert first == second
    assert sum(len(gzip.decompress(body)) > 0 for parts in first.values() for _, body in parts) > 4
    assert one_by_one.roots == in_blocks.roots == 150


# ----------------------------------------------------------------------------------------- memory


class _DiscardingS3:
    """Multipart calls that keep nothing, so the splitter's own memory is all that tracemalloc sees."""

    def __init__(self) -> None:
        self.uploads = 0
        self.compressed = 0

    def create_multipart_upload(self, **_: Any) -> dict[str, Any]:
        self.uploads += 1
        return {"UploadId": f"upload-{self.uploads}"}

    def upload_part(self, **call: Any) -> dict[str, Any]:
        self.compressed += len(call["Body"])
        return {"ETag": f'"{self.compressed}"'}

    def complete_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {}

    def head_object(self, **_: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")


def _streamed_peak(simulator: ShopifyAdminSimulator, path: Path, settings: StreamSettings) -> tuple[int, int]:
    """(peak bytes allocated while one step streams ``path`` to the end, objects written)."""
    token = secrets.token_urlsafe(8)
    size = path.stat().st_size
    simulator.state.urls[token] = UrlGrant("memory", ResultFile(path, size, 0, 0), time.time() + 3600)
    url = f"{simulator.url}/_results/{token}/{path.name}"
    s3 = _DiscardingS3()
    tracemalloc.start()
    try:
        splitter = BulkSplitter(s3, BUCKET, "1000", settings)  # type: ignore[arg-type]
        assert run_step(_reader(url), splitter, lambda n: False) == "eof"
        splitter.finish()
        splitter.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert splitter.offset == size
    assert s3.compressed > 0
    return peak, splitter.objects


def test_memory_stays_flat_and_far_below_the_file_size(tmp_path: Path, simulator: ShopifyAdminSimulator) -> None:
    """The whole file is never held: what a step allocates depends on the settings, not on the file."""
    lines = shop_lines(tmp_path, 300)
    block = b"".join(line + b"\n" for line in lines)  # about 1.1 MB of orders and shuffled children
    settings = StreamSettings(level=1, member_bytes=64 * 1024, part_bytes=256 * 1024, file_target_bytes=1024 * 1024)
    peaks = {}
    for copies in (4, 24):
        path = tmp_path / f"result-{copies}.jsonl"
        with path.open("wb") as out:
            for _ in range(copies):
                out.write(block)
        peak, objects = _streamed_peak(simulator, path, settings)
        assert objects == copies * len(lines)
        peaks[copies] = (peak, path.stat().st_size)
    (small, _), (large, large_size) = peaks[4], peaks[24]
    assert large < large_size / 6, f"peak {large} bytes while streaming a {large_size}-byte file"
    assert large <= small * 1.15 + 256 * 1024, f"peak grew with the file: {small} -> {large} bytes"
