"""`edge-consent sam-local`: `sam build`'s output made runnable by `sam local invoke`, with the development config.

`sam build` puts the policy compiled without keys into every edge package (the keys come
at deploy time, from the stack's secret), and a Lambda@Edge function declares no
environment variable for `--env-vars` to override: run as built, every handler takes its
fail-closed path. This copies the build to its own folder (`.aws-sam/local`, which
samconfig.toml names for `sam local invoke` and `sam local start-lambda`) and writes the
development config where the deploy writes the real one. `sam deploy` uploads
`.aws-sam/build` and never this folder; its template carries a rule that CloudFormation
refuses, should anyone try to deploy it, and the stack's config writer refuses any
package whose built config holds keys.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from . import policy
from .template import load_template

BUILD = Path(".aws-sam") / "build"
LOCAL = Path(".aws-sam") / "local"
MARKER = ".edge-consent-sam-local"  # a folder holding it was made here, and may be made again
LOCAL_ONLY = {
    "LocalInvokeOnly": {
        "Assertions": [
            {
                "Assert": {"Fn::Equals": ["sam local invoke", "sam deploy"]},
                "AssertDescription": "this template carries the development key: it is for sam local invoke only; "
                "deploy .aws-sam/build (sam build && sam deploy)",
            }
        ]
    }
}


class SamLocalError(ValueError):
    """What the user must do first; no folder was changed."""


def configured_packages(template: dict[str, Any]) -> list[tuple[str, str]]:
    """(function logical id, config path in its package) for each function the config writer configures."""
    entries = template["Resources"]["EdgeConfig"]["Properties"]["Functions"]
    return [(str(entry["Source"]["Ref"]).split(".")[0], entry["ConfigPath"]) for entry in entries]


def prepare(build: Path, local: Path, config: dict[str, Any]) -> list[Path]:
    """Copy `build` to `local` with `config` in every edge package; the config files written."""
    if not (build / "template.yaml").is_file():
        raise SamLocalError(f"{build} has no template.yaml: run `sam build` first (or `make sam-local`)")
    if local.exists():
        if not (local / MARKER).is_file():
            raise SamLocalError(f"{local} exists and was not made by `edge-consent sam-local`: move it away")
        shutil.rmtree(local)
    template = load_template(build / "template.yaml")
    shutil.copytree(build, local)
    (local / MARKER).write_text("made by edge-consent sam-local\n", encoding="utf-8")
    written = []
    for function, config_path in configured_packages(template):
        target = local / template["Resources"][function]["Properties"]["CodeUri"] / config_path
        policy.write_json_atomically(target, config)
        written.append(target)
    template["Rules"] = {**template.get("Rules", {}), **LOCAL_ONLY}
    (local / "template.yaml").write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")
    return written


def development_config(policy_path: Path) -> dict[str, Any]:
    return policy.compile_policy(policy.load_policy(policy_path), policy.load_keys(None))
