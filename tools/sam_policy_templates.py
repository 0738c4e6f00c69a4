"""The actions each SAM policy template grants, from the SAM translator `make sam-check` installs.

    .venv-sam/bin/python tools/sam_policy_templates.py > tests/helpers/sam_policy_templates.json

The template's IAM test expands a function's SAM policy templates with this table (the
development environment has no SAM translator); it refuses a table made from another
translator than requirements/sam.txt pins, so a SAM upgrade makes it again.
"""

import json
import pathlib
import sys
from typing import Any

import samtranslator  # type: ignore[import-not-found]


def actions(statement: dict[str, Any]) -> list[str]:
    found = statement.get("Action", statement.get("NotAction", []))
    return [found] if isinstance(found, str) else list(found)


def main() -> None:
    source = pathlib.Path(samtranslator.__file__).parent / "policy_templates_data" / "policy_templates.json"
    templates = json.loads(source.read_text(encoding="utf-8"))["Templates"]
    table: dict[str, list[str]] = {}
    for name, template in sorted(templates.items()):
        statements = template["Definition"]["Statement"]
        assert all(s["Effect"] == "Allow" and "NotAction" not in s for s in statements), name
        table[name] = sorted({action for s in statements for action in actions(s)})
    json.dump({"aws-sam-translator": samtranslator.__version__, "templates": table}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
