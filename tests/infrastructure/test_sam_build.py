"""What `sam build` produced (run by `make sam-check` after the build; skipped when there is no build)."""

from __future__ import annotations

import os

import pytest

from edge_consent.packaging import zip_size
from edge_consent.template import load_template
from tests.helpers.dev import ROOT

BUILD = ROOT / ".aws-sam" / "build"
VIEWER = ("ViewerRequestFunction", "ViewerResponseFunction")
HEAVY = ("boto3", "botocore", "pydantic", "pydantic_core", "aws_lambda_powertools")

pytestmark = pytest.mark.skipif(
    os.environ.get("EDGE_CONSENT_REQUIRE_BUILD") != "1" and not (BUILD / "template.yaml").exists(),
    reason="no sam build output (make sam-check)",
)


def test_every_function_and_layer_was_built() -> None:
    resources = load_template()["Resources"]
    built = {
        name
        for name, resource in resources.items()
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion")
    }
    assert built <= {path.name for path in BUILD.iterdir() if path.is_dir()}


@pytest.mark.parametrize("function", VIEWER)
def test_viewer_packages_are_small_and_standard_library_only(function: str) -> None:
    package = BUILD / function
    assert not [p for p in package.iterdir() if p.name in HEAVY]
    assert zip_size(package) <= 128 * 1024  # the sources and their bytecode; Lambda@Edge allows 1 MB


@pytest.mark.parametrize("function", ["OriginResponseFunction", "ConsentApiFunction"])
def test_origin_packages_fit_lambda_edge(function: str) -> None:
    assert zip_size(BUILD / function) <= 50 * 1024 * 1024


def test_the_config_writer_ships_only_what_it_imports() -> None:
    """Its handler alone, and a layer with the standard-library core: no pydantic, no powertools."""
    assert sorted(p.name for p in (BUILD / "EdgeConfigFunction").iterdir()) == ["app.py"]
    assert sorted(p.name for p in (BUILD / "SharedLayer" / "python").iterdir()) == ["consent_core"]
