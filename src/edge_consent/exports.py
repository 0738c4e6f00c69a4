"""What the AWS CLI prints, read back: a distribution's config and a stack's outputs.

`edge-consent attach` and `edge-consent run --distribution-config` read the same files: the
output of `aws cloudfront get-distribution-config` (or `get-distribution`) and of
`aws cloudformation describe-stacks`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The stack's outputs that name its parts in a distribution (template.yaml's Outputs).
VERSION_OUTPUTS = {
    "ViewerRequestVersion": "ViewerRequestFunction",
    "ViewerResponseVersion": "ViewerResponseFunction",
    "OriginResponseVersion": "OriginResponseFunction",
    "ConsentApiVersion": "ConsentApiFunction",
    "StaticResponseVersion": "StaticResponseFunction",
}
POLICY_OUTPUTS = {
    "SiteCachePolicyId": "SiteCachePolicy",
    "StaticCachePolicyId": "StaticCachePolicy",
    "BannerCachePolicyId": "BannerCachePolicy",
    "SiteOriginRequestPolicyId": "SiteOriginRequestPolicy",
    "ConsentOriginRequestPolicyId": "ConsentOriginRequestPolicy",
}


class ExportError(ValueError):
    """A file that is not what the AWS CLI prints for it; the message is one line and names the file."""


def read_stack_outputs(path: Path) -> dict[str, str]:
    """`aws cloudformation describe-stacks --stack-name STACK` as it prints it, or a flat {OutputKey: OutputValue}."""
    return stack_outputs(read_json(path), path)


def stack_outputs(document: Any, path: Path | str) -> dict[str, str]:
    """The outputs of DescribeStacks' answer for one stack (or a flat {OutputKey: OutputValue}), `path` naming it."""
    outputs: Any = document
    if isinstance(document, dict) and "Stacks" in document:
        stacks = document["Stacks"]
        if not isinstance(stacks, list) or len(stacks) != 1:
            raise ExportError(f"{path}: describe one stack (--stack-name STACK), not {_count(stacks)}")
        outputs = stacks[0].get("Outputs", []) if isinstance(stacks[0], dict) else None
    if isinstance(outputs, list) and all(isinstance(o, dict) and "OutputKey" in o for o in outputs):
        flat = {str(o["OutputKey"]): str(o.get("OutputValue", "")) for o in outputs}
    elif isinstance(outputs, dict) and all(isinstance(v, str) for v in outputs.values()):
        flat = {str(key): value for key, value in outputs.items()}
    else:
        raise ExportError(f"{path}: not stack outputs (describe-stacks' output, or {{OutputKey: OutputValue}})")
    if not set(flat) & {*POLICY_OUTPUTS, *VERSION_OUTPUTS}:
        raise ExportError(f"{path}: none of the stack's outputs ({', '.join(POLICY_OUTPUTS)}...) is there")
    return flat


def distribution_config(document: Any, source: Path) -> dict[str, Any]:
    """The DistributionConfig of get-distribution-config's output, of get-distribution's, or the object itself."""
    if isinstance(document, dict) and isinstance(document.get("Distribution"), dict):
        document = document["Distribution"]
    if isinstance(document, dict) and isinstance(document.get("DistributionConfig"), dict):
        document = document["DistributionConfig"]
    if not isinstance(document, dict) or not {"Origins", "DefaultCacheBehavior"} <= set(document):
        raise ExportError(
            f"{source}: not a distribution config (`aws cloudfront get-distribution-config --id ID` prints one: "
            '{"ETag": ..., "DistributionConfig": {"Origins": ..., "DefaultCacheBehavior": ...}})'
        )
    return document


def read_exported_config(path: Path) -> tuple[dict[str, Any], str | None]:
    """A distribution's config from a file, and the ETag it was read with when the file has it."""
    document = read_json(path)
    etag = document.get("ETag") if isinstance(document, dict) else None
    return distribution_config(document, path), etag if isinstance(etag, str) else None


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ExportError(f"{path}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise ExportError(f"{path}: not JSON ({exc})") from None


def _count(value: Any) -> str:
    return str(len(value)) if isinstance(value, list) else "none"
