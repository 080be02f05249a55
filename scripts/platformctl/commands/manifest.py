"""``platformctl manifest images|stacks [--job JOB]``: the manifest's images or stacks, one a line, for scripts."""

from __future__ import annotations

import argparse
from typing import Any

from platformctl.manifest import load_manifest


def cmd_manifest(args: argparse.Namespace) -> int:
    manifest = load_manifest()
    if args.what == "images":
        for image in manifest.images:
            if args.job in (None, "all", image.job):
                print(f"{image.name}\t{image.folder}\t{image.dockerfile}")
    else:
        for stack in manifest.stacks:
            print(f"{stack.key}\t{stack.template}")
    return 0


def register(subparsers: Any) -> None:
    manifest = subparsers.add_parser("manifest", help="list the manifest's images or stacks (for scripts)")
    manifest.add_argument("what", choices=["images", "stacks"])
    manifest.add_argument("--job", help="only this job's entries ('all' for every job)")
    manifest.set_defaults(func=cmd_manifest)
