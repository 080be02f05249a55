"""``platformctl params --env ENV --stack STACK``: a stack's complete parameter file, fed values resolved, for
``aws cloudformation deploy``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from platformctl.commands.deploy import add_target, deployer_for
from platformctl.errors import UserError


def cmd_params(args: argparse.Namespace) -> int:
    from platformctl.params import resolve_parameters

    deployer = deployer_for(args)
    stack = deployer.manifest.select(args.job, args.stack)[0]
    fed = deployer._fed_outputs(stack)  # same resolution as a deploy
    if fed is None:
        raise UserError(f"stack {stack.key} reads outputs of a stack that is not deployed yet")
    values = resolve_parameters(stack, deployer.environment, fed, deployer.image_uri, deployer.local_values)
    print(json.dumps([{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(values.items())], indent=2))
    return 0


def register(subparsers: Any) -> None:
    params = subparsers.add_parser("params", help="a stack's complete parameter file, fed values resolved")
    add_target(params)
    params.add_argument("--image-tag")
    params.set_defaults(func=cmd_params)
