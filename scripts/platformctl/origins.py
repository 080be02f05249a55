"""Where credentials go: refused before any change set when a real account would send one in clear or astray.

Every stack parameter named ``*Url`` is the origin of an API the stack's functions call with a credential
(``ShopifyAdminBaseUrl``: the Admin API access token; ``TripleWhaleApiBaseUrl``: the Triple Whale key).
Outside the local environment each one must be an https origin (``https://<host>``, no user, path, query
or port other than 443), the Shopify Admin API's host must be a ``<shop>.myshopify.com`` domain, and so
must every ``ShopDomain`` (an empty ``ShopifyAdminBaseUrl`` means ``https://<ShopDomain>``). The local
environment keeps its ``http://127.0.0.1`` simulators. One line per value, naming the file and the key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from platformctl.aws_target import LOCAL_ENVIRONMENT
from platformctl.manifest import Stack
from platformctl.params import LOCAL_PLACEHOLDER, check_parameters, repo_relative, template_parameters

SHOP_DOMAIN = re.compile(r"[a-z0-9][a-z0-9-]*\.myshopify\.com")
ADMIN_API_ORIGINS = frozenset({"ShopifyAdminBaseUrl"})  # origins whose host must be <shop>.myshopify.com
SHOP_DOMAINS = frozenset({"ShopDomain"})


def is_origin_parameter(name: str) -> bool:
    """A parameter that names the origin of an API called with a credential."""
    return name.endswith("Url")


def origin_problem(name: str, value: str) -> str | None:
    """What is wrong with ``value`` as the origin ``name`` in a real account, or None."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return f"{name} is {value!r}, not a URL; set it to an https://<host> origin"
    if parts.scheme.lower() != "https":
        return (
            f"{name} is {value!r}: it receives a credential, so it must be https://, not {parts.scheme or 'empty'}://"
        )
    host = (parts.hostname or "").lower()
    if not host or parts.username is not None or parts.password is not None:
        return f"{name} is {value!r}: it must be https://<host> (a host, no user or password)"
    if parts.path not in ("", "/") or parts.query or parts.fragment or port not in (None, 443):
        return f"{name} is {value!r}: it must be an origin, https://<host> (no path, query or port)"
    if name in ADMIN_API_ORIGINS and not SHOP_DOMAIN.fullmatch(host):
        return (
            f"{name} is {value!r}: the Admin API host must end in .myshopify.com (https://<shop>.myshopify.com), "
            f"not {host}; or leave it empty for https://<ShopDomain>"
        )
    return None


def shop_domain_problem(name: str, value: str) -> str | None:
    if SHOP_DOMAIN.fullmatch(value):
        return None
    return f"{name} is {value!r}: the Admin API host must be the shop's permanent <shop>.myshopify.com domain"


def _checked(stack: Stack, environment: str) -> Iterator[tuple[str, str, str]]:
    """(where, name, problem) for each origin or shop domain of ``stack`` that a real account must not use."""
    check = check_parameters(stack, environment)
    values = check.values
    for name, spec in template_parameters(stack).items():
        if name in stack.fed_parameters:
            continue  # an earlier stack's output, not an operator's choice
        in_file = name in check.file_values
        if name in values:
            value = values[name]
            where = repo_relative(stack.parameter_file(environment) if in_file else stack.settings_file(environment))
        elif isinstance(spec, dict) and isinstance(spec.get("Default"), str):
            value, where = spec["Default"], stack.template  # the template's default applies
        else:
            continue
        if LOCAL_PLACEHOLDER.match(value):
            continue  # reported by check_parameters(...).problems()
        problem = None
        if is_origin_parameter(name) and value:  # empty: the template's own https default (see its description)
            problem = origin_problem(name, value)
        elif name in SHOP_DOMAINS and value:  # empty: reported as a placeholder
            problem = shop_domain_problem(name, value)
        if problem:
            yield where, name, problem


def origin_problems(stacks: list[Stack], environment: str) -> list[str]:
    """One line per credential-receiving origin or shop domain the stacks would deploy with (none locally)."""
    if environment == LOCAL_ENVIRONMENT:
        return []
    problems: dict[str, str] = {}
    for stack in stacks:
        for where, name, problem in _checked(stack, environment):
            problems.setdefault(f"{where}:{name}", f"{where}: {problem}")
    return list(problems.values())
