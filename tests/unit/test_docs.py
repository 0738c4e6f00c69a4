"""The README and docs/: every relative link reaches a file and its anchor, every `make TARGET` is the Makefile's.

Anchors are made as GitHub makes them from a heading: the text as rendered (code kept,
link targets and HTML tags dropped), lowercased, every character but letters, digits,
`_`, `-` and spaces removed, each space a hyphen; a repeated anchor gets -1, -2... An
external link (any URL with a scheme: http, https, mailto) is not followed.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.DOTALL)
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
ATX_HEADING = re.compile(r"^ {0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$")
SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)\s*$")
HTML_ANCHOR = re.compile(r"<a\s[^>]*?(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
MAKE = re.compile(r"(?<![\w./$-])make\s+(.*)")
MAKE_NAME = re.compile(r"^[A-Za-z0-9_.%/-]+$")
MAKE_RULE = re.compile(r"^([^\s:=#][^:=#]*?)\s*::?(?!=)(.*)$")


def split_fences(text: str) -> tuple[str, list[str]]:
    """The text outside fenced code blocks (their lines blanked), and each block's content."""
    outside: list[str] = []
    blocks: list[str] = []
    fence: str | None = None
    block: list[str] = []
    for line in text.split("\n"):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence, block = opening.group(1), []
            outside.append("")
        elif fence is not None and line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
            fence = None
            blocks.append("\n".join(block))
            outside.append("")
        elif fence is not None:
            block.append(line)
            outside.append("")
        else:
            outside.append(line)
    return "\n".join(outside), blocks


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text, before the -1, -2 of a repeated one."""
    pieces = CODE_SPAN.split(heading)  # outside, fence, code, outside, fence, code, ...
    rendered = []
    for index, piece in enumerate(pieces):
        if index % 3 == 0:
            piece = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", piece)
            rendered.append(re.sub(r"<[^>]+>", "", piece))
        elif index % 3 == 2:
            rendered.append(piece)
    text = "".join(rendered).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def headings(text: str) -> Iterator[str]:
    outside, _ = split_fences(text)
    previous = ""
    for line in outside.split("\n"):
        atx = ATX_HEADING.match(line)
        if atx:
            yield atx.group(1) or ""
        elif previous.strip() and SETEXT_UNDERLINE.match(line) and not previous.lstrip().startswith(("-", "*", "|")):
            yield previous.strip()
        previous = "" if atx else line


def anchors(text: str) -> set[str]:
    found: set[str] = set(HTML_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for heading in headings(text):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


@cache
def anchors_of(path: Path) -> frozenset[str]:
    return frozenset(anchors(path.read_text(encoding="utf-8")))


def links(text: str) -> list[str]:
    """Every link target outside code: inline links, images and reference definitions."""
    outside, _ = split_fences(text)
    prose = CODE_SPAN.sub("", outside)
    return INLINE_LINK.findall(prose) + REFERENCE.findall(prose)


def link_problem(document: Path, target: str, root: Path) -> str | None:
    """Why `target`, written in `document`, leads nowhere in the repository at `root`; None when it resolves."""
    if SCHEME.match(target):
        return None
    path_part, _, anchor = target.partition("#")
    path = unquote(path_part)
    if not path:
        destination = document
    elif path.startswith("/"):
        destination = root / path.lstrip("/")
    else:
        destination = document.parent / path
    destination = destination.resolve()
    if not destination.is_relative_to(root.resolve()):
        return "outside the repository"
    if not destination.exists():
        return "no such file or directory"
    if anchor and destination.suffix == ".md" and unquote(anchor) not in anchors_of(destination):
        return f"no heading with the anchor #{anchor} in {destination.name}"
    return None


def make_targets(makefile: str) -> frozenset[str]:
    """The targets a Makefile's rules name, .PHONY's included (patterns keep their %)."""
    targets: set[str] = set()
    in_define = False
    for line in makefile.replace("\\\n", " ").split("\n"):
        if line.startswith("define ") or line.strip() == "define":
            in_define = True
        elif line.startswith("endef"):
            in_define = False
        elif not in_define and not line.startswith("\t") and (rule := MAKE_RULE.match(line)):
            names = rule.group(1).split()
            if names == [".PHONY"]:
                targets.update(rule.group(2).split())
            else:
                targets.update(name for name in names if "$" not in name and not name.startswith("."))
    return frozenset(targets)


def is_target(name: str, targets: frozenset[str]) -> bool:
    return name in targets or any(
        "%" in pattern and re.fullmatch(re.escape(pattern).replace("%", ".+"), name) for pattern in targets
    )


def make_commands(text: str) -> list[str]:
    """The targets of every `make ...` written in code: inline code and code blocks, shell comments left out."""
    outside, blocks = split_fences(text)
    code = [match.group(2) for match in CODE_SPAN.finditer(outside)]
    code += [re.sub(r"(^|\s)#.*", "", line) for block in blocks for line in block.split("\n")]
    named: list[str] = []
    for snippet in code:
        for command in MAKE.finditer(snippet.replace("\n", " ")):
            named += command_targets(command.group(1))
    return named


def command_targets(arguments: str) -> list[str]:
    """`run` from `run PORT=9000 ARGS="--no-cache"`: names before the first assignment, up to a shell separator."""
    try:
        words = shlex.split(arguments, comments=True)
    except ValueError:
        words = arguments.split()
    targets: list[str] = []
    for word in words:
        if word in {"&&", "||", ";", "|"} or "=" in word or word.startswith("-") or not MAKE_NAME.match(word):
            break
        targets.append(word)
    return targets


@cache
def makefile_targets() -> frozenset[str]:
    return make_targets((ROOT / "Makefile").read_text(encoding="utf-8"))


def document_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_documentation_is_where_the_readme_sends_readers() -> None:
    named = {"testing.md", "deploying.md", "policy.md", "security.md", "benchmarks.md", "decisions.md"}
    assert named | {"architecture.md"} <= {path.name for path in DOCS}


@pytest.mark.parametrize("document", DOCS, ids=document_id)
def test_every_relative_link_resolves(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    broken = {target: link_problem(document, target, ROOT) for target in links(text)}
    assert {target: problem for target, problem in broken.items() if problem} == {}


@pytest.mark.parametrize("document", DOCS, ids=document_id)
def test_every_make_target_named_is_in_the_makefile(document: Path) -> None:
    named = make_commands(document.read_text(encoding="utf-8"))
    assert sorted({name for name in named if not is_target(name, makefile_targets())}) == []


def test_anchors_are_made_as_github_makes_them() -> None:
    text = "\n".join(
        [
            "# What `sam deploy` ships, as AWS runs it",
            "## 20. `policy compile` without `--keys` uses the development key",
            "## One transaction writes the receipt and a `submission#<id>` marker",
            "### Où vont les reçus ?",
            "## Caching",
            "## Caching",
            "```",
            "# not a heading",
            "```",
            "Setext heading",
            "--------------",
            '<a id="kept"></a>',
        ]
    )
    assert anchors(text) == {
        "what-sam-deploy-ships-as-aws-runs-it",
        "20-policy-compile-without---keys-uses-the-development-key",
        "one-transaction-writes-the-receipt-and-a-submissionid-marker",
        "où-vont-les-reçus-",
        "caching",
        "caching-1",
        "setext-heading",
        "kept",
    }


def test_a_missing_file_and_an_unknown_anchor_are_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text("# Page\n\n## Real heading\n", encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(
        "[ok](docs/page.md#real-heading) [gone](docs/missing.md) [typo](docs/page.md#real-headings) "
        "[self](#nothing-here) [up](../elsewhere.md) [web](https://example.com/x#y) `[code](nowhere.md)`\n"
        "```\n[block](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    problems = {target: link_problem(readme, target, tmp_path) for target in links(readme.read_text(encoding="utf-8"))}
    assert problems == {
        "docs/page.md#real-heading": None,
        "docs/missing.md": "no such file or directory",
        "docs/page.md#real-headings": "no heading with the anchor #real-headings in page.md",
        "#nothing-here": "no heading with the anchor #nothing-here in README.md",
        "../elsewhere.md": "outside the repository",
        "https://example.com/x#y": None,
    }


def test_make_targets_are_read_from_rules_and_phony_and_commands_from_code() -> None:
    makefile = (
        ".PHONY: test unit \\\n\tsam-check\nPORT ?= 8080\nSTAMP := .venv/.installed\n$(STAMP): req.txt\n"
        "run: $(STAMP)\n\t$(BIN)/edge-consent run --port $(PORT)\nbuild-%:\n\tcp x y\n"
        "define venv\nfake: target\nendef\n"
    )
    targets = make_targets(makefile)
    assert targets == {"test", "unit", "sam-check", "run", "build-%"}
    document = (
        "Run `make run PORT=9000` or `make unit`, then `sam build && make sam-check`.\n\n"
        '```\nmake run ARGS="--no-cache"   # make nothing of this comment\nmake runn\n```\n'
        "Outside code, make believe is prose.\n"
    )
    named = make_commands(document)
    assert named == ["run", "unit", "sam-check", "run", "runn"]
    assert [name for name in named if not is_target(name, targets)] == ["runn"]
    assert is_target("build-ViewerRequestFunction", targets)
