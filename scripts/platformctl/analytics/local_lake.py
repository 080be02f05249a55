"""The local cloud's processed zone for the local engine: the processed database's tables from the emulated
Glue catalog (name -> columns and S3 location), their Parquet objects copied from the emulated S3 into a
cache folder (an object already there with the same ETag is not copied again; one gone from S3 is removed),
registered in a LocalEngine with the metric views of infrastructure/analytics/views/."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from platformctl.analytics.local_engine import LocalEngine
from platformctl.analytics.schemas import TableSchema, processed_tables
from platformctl.analytics.views import View, load_views
from platformctl.aws_target import LOCAL_STATE_DIR, Target
from platformctl.errors import UserError

_ETAGS = ".etags.json"  # a leading dot: the engine skips it, as Athena would


def cache_root() -> Path:
    """Beside the running local cloud's endpoints file (its state folder)."""
    override = os.environ.get("PLATFORMCTL_ENDPOINTS_FILE")
    return (Path(override).parent if override else LOCAL_STATE_DIR) / "query-cache"


def catalog_tables(target: Target, database: str) -> dict[str, tuple[TableSchema, str]]:
    """Table name -> (schema, bucket) for every table (not view) of the database in the target's catalog."""
    glue = target.client("glue")
    found: dict[str, tuple[TableSchema, str]] = {}
    try:
        pages = list(glue.get_paginator("get_tables").paginate(DatabaseName=database))
    except glue.exceptions.EntityNotFoundException:
        raise UserError(f"the Glue database {database} does not exist: deploy shared/glue-catalog") from None
    for page in pages:
        for table in page.get("TableList", []):
            if table.get("TableType") == "VIRTUAL_VIEW":
                continue
            descriptor = table.get("StorageDescriptor") or {}
            location = str(descriptor.get("Location") or "")
            if not location.startswith("s3://"):
                continue
            bucket, _, prefix = location[len("s3://") :].partition("/")
            keys = tuple((str(k["Name"]), str(k["Type"])) for k in table.get("PartitionKeys") or [])
            columns = tuple((str(c["Name"]), str(c["Type"])) for c in descriptor.get("Columns") or [])
            schema = TableSchema(
                str(table["Name"]), columns + keys, prefix.rstrip("/") + "/", tuple(k for k, _ in keys)
            )
            found[schema.name] = (schema, bucket)
    return found


def sync_table(s3: Any, bucket: str, prefix: str, folder: Path) -> int:
    """Copy the Parquet objects under ``prefix`` into ``folder``; the number of objects now there."""
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / _ETAGS
    try:
        known: dict[str, str] = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        known = {}
    current: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = str(item["Key"])[len(prefix) :]
            if not relative.endswith(".parquet") or any(p.startswith(("_", ".")) for p in relative.split("/")):
                continue
            local = folder / relative
            if known.get(relative) != item["ETag"] or not local.is_file():
                local.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, item["Key"], str(local))
            current[relative] = str(item["ETag"])
    for relative in set(known) - set(current):
        (folder / relative).unlink(missing_ok=True)
    record.write_text(json.dumps(current, sort_keys=True), encoding="utf-8")
    return len(current)


def local_engine(target: Target, database: str, views: list[View] | None = None) -> tuple[LocalEngine, list[str]]:
    """A LocalEngine over the processed database of the target's catalog, with the metric views; and notes
    on what it had to stand in for (a table a view reads that the catalog lacks is empty)."""
    tables = catalog_tables(target, database)
    engine = LocalEngine()
    s3 = target.client("s3")
    root = cache_root() / database
    for name, (schema, bucket) in sorted(tables.items()):
        folder = root / name
        sync_table(s3, bucket, schema.prefix, folder)
        engine.add_table(name, schema.columns, folder, schema.partition_keys)
    chosen = load_views() if views is None else views
    notes = []
    missing = sorted({t for view in chosen for t in view.reads} - set(tables) - {v.name for v in chosen})
    declared = processed_tables()
    for name in missing:
        if name not in declared:
            raise UserError(f"the metric views read {name}, which neither the {database} catalog nor a template has")
        engine.add_table(name, declared[name].columns)
        notes.append(f"{name} is not in the {database} catalog (its stack is not deployed): it reads as empty")
    engine.add_views(chosen)
    return engine, notes
