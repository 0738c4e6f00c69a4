"""The tree's parts and what each may import: the rules apart from CloudFront, the viewers light.

- `consent_core`: the sans-io rules, standard library only and nothing of CloudFront's;
- `consent_edge`: the CloudFront adapter and the handlers' runtime, over the core;
- the viewer and origin handlers: the two of them and the standard library (1 MB packages);
- the consent endpoint: those, what its package carries and the runtime's botocore;
- the config writer: the core and the SDK the Lambda runtime carries (its layer holds nothing else).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "layers" / "consent_core" / "consent_core"
EDGE = ROOT / "layers" / "consent_core" / "consent_edge"
EDGE_HANDLERS = [
    ROOT / "functions" / name / "app.py" for name in ("viewer_request", "viewer_response", "origin_response")
]
WRITER = ROOT / "deploy" / "edge_config" / "app.py"


def top_level_imports(path: Path) -> set[str]:
    """Every module a file imports, by its top-level package (`.x` is the file's own package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." if node.level else (node.module or "").split(".")[0])
    return names


def foreign(paths: list[Path], allowed: set[str]) -> dict[str, set[str]]:
    standard = set(sys.stdlib_module_names) | {"_sha2"}  # _sha2: the SHA-2 builtin of Python 3.12 and later
    found = {str(p.relative_to(ROOT)): top_level_imports(p) - allowed - standard for p in paths}
    return {path: names for path, names in found.items() if names}


def test_the_core_is_sans_io() -> None:
    modules = sorted(CORE.glob("*.py"))
    assert len(modules) > 5
    assert foreign(modules, {"."}) == {}
    # Nothing of the event shape either: no module reads a CloudFront record.
    assert [p.name for p in modules if '"Records"' in p.read_text(encoding="utf-8")] == []


def test_the_adapter_is_over_the_core() -> None:
    assert foreign(sorted(EDGE.glob("*.py")), {".", "consent_core"}) == {}


@pytest.mark.parametrize("handler", EDGE_HANDLERS, ids=lambda p: p.parent.name)
def test_edge_handlers_use_the_core_the_adapter_and_the_standard_library(handler: Path) -> None:
    assert foreign([handler], {"consent_core", "consent_edge"}) == {}


def test_the_consent_endpoint_imports_what_its_package_carries_and_the_runtime_sdk() -> None:
    """requirements/lambda.in and the runtime's botocore: pydantic is the policy compiler's (decision 125)."""
    carried = {"consent_core", "consent_edge", "aws_lambda_powertools", "jinja2", "rjsmin", "botocore"}
    assert foreign(sorted((ROOT / "functions" / "consent_api").glob("*.py")), {".", *carried}) == {}


def test_the_config_writer_needs_the_core_and_the_runtime_sdk() -> None:
    assert foreign([WRITER], {"consent_core", "boto3", "botocore"}) == {}


def test_the_deploy_code_lives_apart_from_the_request_handlers() -> None:
    assert not (ROOT / "functions" / "edge_config").exists()
    assert "CodeUri: deploy/edge_config/" in (ROOT / "template.yaml").read_text(encoding="utf-8")
