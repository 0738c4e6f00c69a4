"""The human-edited consent policy: its schema, and its compilation into the edge configuration."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from consent_api import banner
from consent_api.schema import MAX_LIFETIME_DAYS, CategoryId, CompiledConfig, Cookie, Site
from consent_core import signing, token
from consent_core.config import CONFIG_FORMAT, NECESSARY, state_cookie_name
from consent_core.config import DEFAULT_REGION as DEFAULT_REGION  # the compiler's defaults are the reader's
from consent_core.config import DEFAULT_TABLE as DEFAULT_TABLE
from pydantic import Field, ValidationError, model_validator


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
        if self.consent_cookie.lifetime_days > MAX_LIFETIME_DAYS * self.max_cookie_lifetime_months // 13:
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
    """The compact configuration the edge handlers load with the standard library.

    `site` carries what the consent endpoint shows (texts, catalogue, Consent Mode
    mapping); `receipts` where it keeps the receipts. Without `keys` (a package `sam build`
    makes), the deploy adds them. The result is checked against `schema.CompiledConfig`.
    """

    def location(cookie: Cookie) -> dict[str, Any]:
        entry: dict[str, Any] = {"category": cookie.category}
        if cookie.path != "/":
            entry["path"] = cookie.path
        if cookie.domain:
            entry["domain"] = cookie.domain
        return entry

    site = Site.section(policy)
    # Rendered from the section as the endpoint will read it back: the same bytes, the same path.
    script = banner.render(
        Site.model_validate(site), state_cookie_name(policy.consent_cookie.name), policy.reconsent_version
    )
    compiled: dict[str, Any] = {
        "format": CONFIG_FORMAT,
        "policy_sha256": policy_sha256(policy),
        "edge": {
            "policy_version": policy.version,
            "reconsent_version": policy.reconsent_version,
            "categories": [category.id for category in policy.categories],
            "consent_cookie": {
                "name": policy.consent_cookie.name,
                "max_age": policy.consent_cookie.lifetime_days * 86400,
            },
            "max_cookie_months": policy.max_cookie_lifetime_months,
            "unknown_cookies": None if policy.unknown_cookies == "deny" else policy.unknown_cookies,
            "gpc_denies": sorted(policy.gpc_denies),
            "cookies": {
                "exact": {c.name: location(c) for c in policy.cookies if not c.is_glob},
                "patterns": [[c.name, location(c)] for c in policy.cookies if c.is_glob],
            },
            "keys": keys,
            "banner": script.path,  # what viewer-request tells the origin to load (x-consent-banner)
        },
        "site": site,
        "receipts": {"table": table, "region": region},
    }
    if keys is None:
        del compiled["edge"]["keys"]
    CompiledConfig.model_validate(compiled)  # what every function will load: never written otherwise
    return compiled


def write_json_atomically(path: str | Path, data: dict[str, Any]) -> None:
    """Write beside the target and rename over it: a failure never leaves a half-written config."""
    target = Path(path)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    temporary.replace(target)
