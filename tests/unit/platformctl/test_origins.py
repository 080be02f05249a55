"""Deploy-time validation of the origins that receive a credential (platformctl.origins)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from platformctl.manifest import Manifest, load_manifest
from platformctl.origins import origin_problem, origin_problems, shop_domain_problem

TEMPLATE = """
Parameters:
  Brand: {Type: String}
  Environment: {Type: String}
  ShopDomain: {Type: String}
  ShopifyAdminBaseUrl: {Type: String, Default: ""}
  ApiBaseUrl: {Type: String, Default: "https://api.example.com"}
Resources:
  Topic: {Type: AWS::SNS::Topic}
"""


def _write(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]), "utf-8")


def make_repo(
    root: Path,
    environment: str,
    *,
    settings: dict[str, str] | None = None,
    stack_file: dict[str, str] | None = None,
    template: str = TEMPLATE,
) -> Manifest:
    """A manifest with one stack (``app/app``) whose settings and parameter file are the given ones."""
    (root / "app.yaml").write_text(template, encoding="utf-8")
    manifest = {"jobs": [{"name": "app", "stacks": [{"name": "app", "template": str(root / "app.yaml")}]}]}
    (root / "ingestion_jobs.json").write_text(json.dumps(manifest), encoding="utf-8")
    folder = root / "environments" / environment
    base = {"Brand": "acme", "Environment": environment, "ShopDomain": "acme.myshopify.com"}
    _write(folder / "settings.json", base | (settings or {}))
    _write(folder / "app" / "app.json", stack_file or {})
    return load_manifest(root / "ingestion_jobs.json")


# --------------------------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    "value",
    ["https://acme.myshopify.com", "https://acme.myshopify.com/", "https://ACME.myshopify.com:443"],
)
def test_an_https_myshopify_origin_is_accepted(value: str) -> None:
    assert origin_problem("ShopifyAdminBaseUrl", value) is None


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("http://acme.myshopify.com", "must be https://, not http://"),
        ("https://evil.example.com", "must end in .myshopify.com"),
        ("https://myshopify.com", "must end in .myshopify.com"),
        ("https://acme.myshopify.com.evil.example", "must end in .myshopify.com"),
        ("https://acme.myshopify.com@evil.example", "no user or password"),
        ("https://acme.myshopify.com/admin", "no path, query or port"),
        ("https://acme.myshopify.com:8443", "no path, query or port"),
        ("acme.myshopify.com", "must be https://, not empty://"),
        ("https://[::1", "not a URL"),
    ],
)
def test_an_admin_origin_that_is_not_https_myshopify_is_refused(value: str, says: str) -> None:
    problem = origin_problem("ShopifyAdminBaseUrl", value)
    assert problem is not None
    assert says in problem
    assert problem.startswith(f"ShopifyAdminBaseUrl is {value!r}")


def test_another_api_origin_needs_https_but_not_myshopify() -> None:
    assert origin_problem("TripleWhaleApiBaseUrl", "https://api.triplewhale.com") is None
    assert "must be https://" in (origin_problem("TripleWhaleApiBaseUrl", "http://api.triplewhale.com") or "")


@pytest.mark.parametrize("value", ["acme.example.com", "acme.myshopify.com.evil.example", "ACME.myshopify.com"])
def test_a_shop_domain_must_be_a_permanent_myshopify_domain(value: str) -> None:
    assert "<shop>.myshopify.com" in (shop_domain_problem("ShopDomain", value) or "")


# ----------------------------------------------------------------------------------- per environment


def test_one_line_per_problem_naming_the_file_and_the_key(tmp_path: Path) -> None:
    manifest = make_repo(
        tmp_path,
        "prod",
        settings={"ShopifyAdminBaseUrl": "http://acme.myshopify.com"},
        stack_file={"ApiBaseUrl": "http://api.example.com"},
    )
    problems = origin_problems(manifest.stacks, "prod")
    assert problems == [
        f"{tmp_path}/environments/prod/settings.json: ShopifyAdminBaseUrl is 'http://acme.myshopify.com': it "
        "receives a credential, so it must be https://, not http://",
        f"{tmp_path}/environments/prod/app/app.json: ApiBaseUrl is 'http://api.example.com': it receives a "
        "credential, so it must be https://, not http://",
    ]


def test_a_template_default_that_is_not_https_is_refused_naming_the_template(tmp_path: Path) -> None:
    template = TEMPLATE.replace("https://api.example.com", "http://api.example.com")
    manifest = make_repo(tmp_path, "staging", template=template)
    (problem,) = origin_problems(manifest.stacks, "staging")
    assert problem.startswith(f"{tmp_path}/app.yaml: ApiBaseUrl is 'http://api.example.com'")


def test_a_foreign_shop_domain_is_refused(tmp_path: Path) -> None:
    manifest = make_repo(tmp_path, "prod", settings={"ShopDomain": "shop.evil.example"})
    (problem,) = origin_problems(manifest.stacks, "prod")
    assert problem.startswith(f"{tmp_path}/environments/prod/settings.json: ShopDomain is 'shop.evil.example'")


def test_empty_admin_origin_means_the_shop_domain_and_passes(tmp_path: Path) -> None:
    manifest = make_repo(tmp_path, "prod", settings={"ShopifyAdminBaseUrl": ""})
    assert origin_problems(manifest.stacks, "prod") == []


def test_a_local_placeholder_is_left_to_the_parameter_check(tmp_path: Path) -> None:
    manifest = make_repo(tmp_path, "prod", settings={"ShopifyAdminBaseUrl": "{{local:simulators.shopify}}"})
    assert origin_problems(manifest.stacks, "prod") == []


def test_the_local_environment_keeps_its_http_simulators(tmp_path: Path) -> None:
    manifest = make_repo(
        tmp_path,
        "local",
        settings={"ShopifyAdminBaseUrl": "http://127.0.0.1:4567"},
        stack_file={"ApiBaseUrl": "http://127.0.0.1:4568"},
    )
    assert origin_problems(manifest.stacks, "local") == []


def test_the_shipped_environments_send_credentials_only_over_https() -> None:
    manifest = load_manifest()
    for environment in ("local", "staging", "prod"):
        assert origin_problems(manifest.stacks, environment) == [], environment
