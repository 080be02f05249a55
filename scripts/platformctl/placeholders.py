"""Values the repository ships as examples, refused in every environment that deploys to a real account.

The shipped ``prod`` and ``staging`` folders are filled with placeholders so that they lint and plan. A
deploy with one of them would work and be wrong (alerts to nobody, a bus bound to another app's source,
a secret for a shop that is not yours), so it is refused before any change set, one line per value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from platformctl.aws_target import LOCAL_ENVIRONMENT
from platformctl.manifest import Stack
from platformctl.params import check_parameters, repo_relative


@dataclass(frozen=True)
class Placeholder:
    parameter: str
    is_placeholder: Callable[[str], bool]
    set_it_to: str


PLACEHOLDERS = (
    Placeholder(
        "ShopDomain",
        lambda value: value in {"", "example.myshopify.com"},
        "your shop's <shop>.myshopify.com",
    ),
    Placeholder(
        "PartnerEventSourceName",
        lambda value: value.startswith("aws.partner/shopify.com/1234567/"),
        "the partner event source Shopify created for your app (aws.partner/shopify.com/<app id>/<name>)",
    ),
    Placeholder("AlertEmail", lambda value: value == "", "an address that receives the alerts"),
    Placeholder("GitHubOrg", lambda value: value == "your-github-org", "the GitHub organisation of your clone"),
)


def placeholder_problems(stacks: list[Stack], environment: str) -> list[str]:
    """One line per placeholder value the chosen stacks would deploy with (none in the local environment)."""
    if environment == LOCAL_ENVIRONMENT:
        return []
    problems: dict[str, str] = {}
    for stack in stacks:
        check = check_parameters(stack, environment)
        values = check.values
        for placeholder in PLACEHOLDERS:
            value = values.get(placeholder.parameter)
            if value is None or not placeholder.is_placeholder(value):
                continue
            in_file = placeholder.parameter in check.file_values
            where = repo_relative(stack.parameter_file(environment) if in_file else stack.settings_file(environment))
            shown = repr(value) if value else "empty"
            problems[f"{where}:{placeholder.parameter}"] = (
                f"{where}: {placeholder.parameter} is the shipped placeholder ({shown}); "
                f"set it to {placeholder.set_it_to}"
            )
    return list(problems.values())
