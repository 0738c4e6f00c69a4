"""The human-edited consent policy: its schema, and its compilation into the edge configuration."""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from consent_api import banner
from consent_api.site_policy import read_site
from consent_core import signing, token
from consent_core.config import CONFIG_FORMAT, NECESSARY, state_cookie_name
from consent_core.config import DEFAULT_REGION as DEFAULT_REGION  # the compiler's defaults are the reader's
from consent_core.config import DEFAULT_TABLE as DEFAULT_TABLE
from consent_core.cookies import TOKEN_CHARACTERS
from pydantic import Field, ValidationError, model_validator

from .schema import (
    MAX_LIFETIME_DAYS,
    MAX_LIFETIME_MONTHS,
    CategoryId,
    CompiledConfig,
    ConsentCookieLimits,
    Cookie,
    CookieCatalogue,
    CookieLocation,
    EdgeSection,
    Keys,
    Receipts,
    Site,
)


class PolicyError(ValueError):
    """The policy file cannot be used; the message names the field and the fault."""


class Policy(Site):
    """The policy file: what visitors are told (`Site`), and what the edge enforces with it."""

    version: int = Field(ge=1, le=999_999_999)
    reconsent_version: int = Field(ge=1, le=999_999_999)
    unknown_cookies: str = "deny"
    gpc_denies: list[CategoryId] = Field(default=["advertising"])

    @model_validator(mode="after")
    def consistent(self) -> Policy:
        ids = [category.id for category in self.categories]
        self._check_categories(ids)
        self._check_cookies(ids)
        self._check_origin_readings()
        if (
            self.consent_cookie.lifetime_days
            > MAX_LIFETIME_DAYS * self.max_cookie_lifetime_months // MAX_LIFETIME_MONTHS
        ):
            raise ValueError("consent_cookie.lifetime_days: over max_cookie_lifetime_months")
        return self

    def _check_categories(self, ids: list[str]) -> None:
        if len(set(ids)) != len(ids):
            raise ValueError(f"categories: an id appears twice in {ids}")
        if NECESSARY not in ids:
            raise ValueError("categories: `necessary` is required (security, session, the consent cookie)")
        if self.reconsent_version > self.version:
            raise ValueError("reconsent_version: cannot be above version")
        if self.unknown_cookies != "deny" and self.unknown_cookies not in ids:
            raise ValueError(f"unknown_cookies: `deny` or a category id, not {self.unknown_cookies!r}")
        for denied in self.gpc_denies:
            if denied not in ids or denied == NECESSARY:
                raise ValueError(f"gpc_denies: {denied!r} is not a category that can be refused")
        for signal, needed in self.consent_mode.items():
            for category in needed:
                if category not in ids:
                    raise ValueError(f"consent_mode.{signal}: {category!r} is not a category")
        worst = len("1.") + 17 + 23 + 10 + len("-".join(ids)) + 1 + 13 + 2 + 43
        if worst > token.MAX_TOKEN_BYTES:
            raise ValueError(f"categories: ids too long for a consent cookie of {token.MAX_TOKEN_BYTES} bytes")

    def _check_cookies(self, ids: list[str]) -> None:
        names = [cookie.name for cookie in self.cookies]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"cookies: {name} is listed twice")
        if self.consent_cookie.name in names:
            raise ValueError(f"cookies: {self.consent_cookie.name} is the consent cookie, which is always necessary")
        for cookie in self.cookies:
            if cookie.category not in ids:
                raise ValueError(f"cookies: {cookie.name} names category {cookie.category!r}, which is not defined")
            if cookie.lives_longer_than(self.max_cookie_lifetime_months):
                raise ValueError(
                    f"cookies: {cookie.name} lives {cookie.lifetime}, over {self.max_cookie_lifetime_months} months"
                )

    def _check_origin_readings(self) -> None:
        """No origin may read a cookie as one of another category, or as the consent cookie.

        The edge classifies each name as it is; PHP reads `_pk_id.1` under the key of
        `_pk_id_1`, ASP.NET Core `_GA` as `_ga`. Catalogued cookies of two categories that
        an origin reads alike would let one category's cookie through as the other.
        """
        consent = self.consent_cookie.name
        for origin, classes in _ORIGIN_READINGS:
            for index, cookie in enumerate(self.cookies):
                pair = lookalike_pair(cookie.name, consent, classes, second_is_glob=False)
                if pair:
                    raise ValueError(
                        f"cookies: {origin} reads {pair[0]} ({cookie.name}) as the consent cookie {consent}"
                    )
                for other in self.cookies[index + 1 :]:
                    if other.category == cookie.category:
                        continue  # read alike, they are refused alike
                    pair = lookalike_pair(cookie.name, other.name, classes)
                    if pair:
                        raise ValueError(
                            f"cookies: {origin} reads {pair[0]} ({_described(cookie)}) and {pair[1]} "
                            f"({_described(other)}) as one cookie: give them one category, or names it cannot confuse"
                        )


def _described(cookie: Cookie) -> str:
    return f"{cookie.name}, {cookie.category}" if cookie.is_glob else cookie.category


# --- How origins read cookie names -------------------------------------------------


def _classes(fold: Callable[[str], str]) -> dict[str, str]:
    """Each token character, and every token character the origin reads as the same one."""
    return {char: "".join(c for c in TOKEN_CHARACTERS if fold(c) == fold(char)) for char in TOKEN_CHARACTERS}


# The characters each origin reads alike (consent_core.config applies the same readings to names
# missing from the catalogue): PHP turns dots into `_`; ASP.NET Core ignores case.
_ORIGIN_READINGS = (
    ("PHP", _classes(lambda char: "_" if char == "." else char)),
    ("ASP.NET Core", _classes(str.lower)),
)
_Element = tuple[bool, str]  # (a wildcard?, `*`, `?` or the literal character)


def lookalike_pair(
    first: str, second: str, classes: dict[str, str], second_is_glob: bool = True
) -> tuple[str, str] | None:
    """Two different names, one matching each glob, that an origin reads alike (`classes`); None if none.

    Both globs are walked side by side, breadth first (no reading changes a name's
    length), remembering whether the names have differed yet: the first pair found is
    a shortest one, for the error message.
    """
    a = [(char in "*?", char) for char in first]
    b = [(second_is_glob and char in "*?", char) for char in second]
    start = (0, 0, False)
    parents: dict[tuple[int, int, bool], tuple[tuple[int, int, bool], str, str] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        i, j, differed = state
        if i == len(a) and j == len(b) and differed:
            return _names_to(state, parents)
        for following, x, y in _steps(a, b, state, classes):
            if following not in parents:
                parents[following] = (state, x, y)
                queue.append(following)
    return None


def _steps(
    a: list[_Element], b: list[_Element], state: tuple[int, int, bool], classes: dict[str, str]
) -> Iterator[tuple[tuple[int, int, bool], str, str]]:
    """The states one step on: a `*` matching nothing, or one more character on each side."""
    i, j, differed = state
    if i < len(a) and a[i] == (True, "*"):
        yield (i + 1, j, differed), "", ""
    if j < len(b) and b[j] == (True, "*"):
        yield (i, j + 1, differed), "", ""
    if i < len(a) and j < len(b):
        after = (i if a[i] == (True, "*") else i + 1, j if b[j] == (True, "*") else j + 1)
        for x, y in _character_pairs(a[i], b[j], classes):
            yield (*after, differed or x != y), x, y


def _character_pairs(a: _Element, b: _Element, classes: dict[str, str]) -> list[tuple[str, str]]:
    """A pair of characters the two elements match and the origin reads alike: one equal, one not, where any."""
    same = different = None
    for x in TOKEN_CHARACTERS if a[0] else a[1]:
        for y in classes.get(x, x):
            if b[0] or y == b[1]:
                if x == y:
                    same = same or (x, y)
                else:
                    different = different or (x, y)
    return [pair for pair in (same, different) if pair]


def _names_to(
    state: tuple[int, int, bool], parents: dict[tuple[int, int, bool], tuple[tuple[int, int, bool], str, str] | None]
) -> tuple[str, str]:
    firsts, seconds = [], []
    step = parents[state]
    while step is not None:
        state, x, y = step
        firsts.append(x)
        seconds.append(y)
        step = parents[state]
    return "".join(reversed(firsts)), "".join(reversed(seconds))


def _error_location(loc: tuple[int | str, ...], data: Any) -> str:
    """`cookies[3] (_ga).lifetime` rather than `cookies.3.lifetime`."""
    parts: list[str] = []
    node = data
    for item in loc:
        if item == "[key]":
            continue  # pydantic's marker for a bad mapping key: the key itself is already named
        if isinstance(item, int):
            label = f"[{item}]"
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, dict):
                label += next((f" ({node[k]})" for k in ("name", "id") if isinstance(node.get(k), str)), "")
            parts.append(label)
        else:
            parts.append(("." if parts else "") + item)
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "policy"


def parse_policy(data: Any) -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{_error_location(error['loc'], data)}: {message}")
        raise PolicyError("\n".join(lines)) from None


def load_policy(path: str | Path) -> Policy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: expected a mapping of policy fields at the top")
    return parse_policy(data)


# --- Keys ----------------------------------------------------------------------

DEVELOPMENT_KEYS_PATH = Path(__file__).with_name("development-keys.json")


def parse_keys(data: Any) -> dict[str, Any]:
    """The keys document, checked, in the nested form the compiled config carries."""
    try:
        document = signing.nested_keys(data)
    except ValueError as exc:
        raise PolicyError(str(exc)) from None
    return {**document, "development": bool(data.get("development"))}


def load_keys(path: str | Path | None) -> dict[str, Any]:
    source = Path(path) if path else DEVELOPMENT_KEYS_PATH
    try:
        return parse_keys(json.loads(source.read_text(encoding="utf-8")))
    except OSError as exc:
        raise PolicyError(f"{source}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{source}: not valid JSON: {exc}") from None


# --- Compilation -----------------------------------------------------------------


def policy_sha256(policy: Policy) -> str:
    """The hash of what visitors are shown, for receipts: stable across key changes and file formatting."""
    canonical = json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def compile_policy(
    policy: Policy, keys: dict[str, Any] | None, table: str = DEFAULT_TABLE, region: str = DEFAULT_REGION
) -> dict[str, Any]:
    """The compact configuration the edge handlers load with the standard library, as JSON data.

    Built as a `schema.CompiledConfig`, so that it has the one shape every function loads.
    `site` carries what the consent endpoint shows (texts, catalogue, Consent Mode
    mapping); `receipts` where it keeps the receipts. Without `keys` (a package `sam build`
    makes), the deploy adds them.
    """

    def location(cookie: Cookie) -> CookieLocation:
        return CookieLocation(category=cookie.category, path=cookie.path, domain=cookie.domain)

    # The section as the endpoint will read it back: the banner rendered from it has the same
    # bytes, and so the same path, as the one the endpoint serves.
    site = Site.model_validate(Site.section(policy))
    script = banner.render(
        read_site(site.section()), state_cookie_name(policy.consent_cookie.name), policy.reconsent_version
    )
    compiled = CompiledConfig(
        format=CONFIG_FORMAT,
        policy_sha256=policy_sha256(policy),
        edge=EdgeSection(
            policy_version=policy.version,
            reconsent_version=policy.reconsent_version,
            categories=[category.id for category in policy.categories],
            consent_cookie=ConsentCookieLimits(
                name=policy.consent_cookie.name, max_age=policy.consent_cookie.lifetime_days * 86400
            ),
            max_cookie_months=policy.max_cookie_lifetime_months,
            unknown_cookies=None if policy.unknown_cookies == "deny" else policy.unknown_cookies,
            gpc_denies=sorted(policy.gpc_denies),
            cookies=CookieCatalogue(
                exact={c.name: location(c) for c in policy.cookies if not c.is_glob},
                patterns=[(c.name, location(c)) for c in policy.cookies if c.is_glob],
            ),
            keys=None if keys is None else Keys.model_validate(keys),
            banner=script.path,  # what viewer-request tells the origin to load (x-consent-banner)
        ),
        site=site,
        receipts=Receipts(table=table, region=region),
    )
    return compiled.model_dump(mode="json")


def write_text_atomically(path: str | Path, text: str) -> None:
    """Write beside the target and rename over it: a failure never leaves a half-written file."""
    target = Path(path)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(target)


def write_json_atomically(path: str | Path, data: dict[str, Any]) -> None:
    write_text_atomically(path, json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n")
