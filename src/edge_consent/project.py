"""Where a project's files are: the folder that holds its `template.yaml`.

The CLI works from an installed package the way `sam` does, on the project in the current
folder or above it (or the one `EDGE_CONSENT_PROJECT` names), never on the folder the
package happens to be installed in.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ENV = "EDGE_CONSENT_PROJECT"


class ProjectNotFound(Exception):
    """No project here: the message says how to name one."""


def root() -> Path:
    configured = os.environ.get(PROJECT_ENV)
    if configured:
        folder = Path(configured).resolve()
        if not (folder / "template.yaml").is_file():
            raise ProjectNotFound(f"{PROJECT_ENV}={configured}: no template.yaml there")
        return folder
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "template.yaml").is_file() and (folder / "functions").is_dir():
            return folder
    raise ProjectNotFound(
        f"no edge-consent project (template.yaml and functions/) in {here} or above: "
        f"run the command in the project's folder, or set {PROJECT_ENV}"
    )


def template() -> Path:
    return root() / "template.yaml"


def receipts_template() -> Path:
    """The receipts table's template (deployed on its own, in the region the receipts are kept)."""
    return root() / "receipts.yaml"


def policy() -> Path:
    return root() / "policy" / "policy.yaml"


def development_config() -> Path:
    return root() / "policy" / "config.dev.json"


def events() -> Path:
    return root() / "events"
