"""The human-edited consent policy: its schema, and its compilation into the edge configuration."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from consent_api import banner
from consent_core import signing, token
from consent_core.config import CONFIG_FORMAT, NECESSARY, state_cookie_name
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MAX_LIFETIME_MONTHS = 13
# The shortest span 13 calendar months can be (Jan 31 to Feb 28 of the next year but one).
MAX_LIFETIME_DAYS = 393
LANGUAGES = ("fr", "en")

CategoryId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
# RFC 6265 token characters, plus `*` and `?` for globs.
CookieName = Annotated[str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z?-]{1,128}$")]

_LIFETIME_RE = re.compile(r"^(session|([1-9][0-9]*) (minutes|hours|days|months))$")
_DAYS_PER_UNIT = {"minutes": 1 / 1440, "hours": 1 / 24, "days": 1}


class PolicyError(ValueError):
    """The policy file cannot be used; the message names the field and the fault."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Texts(Strict):
    fr: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Site(Strict):
    name: str = Field(min_length=1)
    controller: str = Field(min_length=1)
    contact: str = Field(min_length=3)
    privacy_policy_url: str = Field(min_length=1)
    default_language: Literal["fr", "en"] = "fr"
    # The site's registrable domain: catalogued cookies with a Domain under it are the
    # site's own (a local run moves them to its own host, where deletions can reach them).
    domain: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")

    def owns(self, cookie_domain: str) -> bool:
        if self.domain is None:
            return False
        bare = cookie_domain.lstrip(".").lower()
        return bare == self.domain.lower() or bare.endswith("." + self.domain.lower())


class ConsentCookie(Strict):
    name: str = Field(default="__Host-consent", pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
    lifetime_days: int = Field(default=182, ge=1, le=MAX_LIFETIME_DAYS)

    @field_validator("name")
    @classmethod
    def host_prefix_rules(cls, name: str) -> str:
        if name.lower().startswith("__secure-") and not name.startswith("__Secure-"):
            raise ValueError("write the prefix as __Secure-")
        if name.lower().startswith("__host-") and not name.startswith("__Host-"):
            raise ValueError("write the prefix as __Host-")
        return name


class Category(Strict):
    id: CategoryId
    name: Texts
    purpose: Texts


class Cookie(Strict):
    name: CookieName
    category: CategoryId
    provider: str = Field(min_length=1)
    party: Literal["first", "third"] = "first"
    privacy_policy: str | None = None
    purpose: Texts
    lifetime: str
    path: str = Field(default="/", pattern=r"^/[^;\s]*$")
    domain: str | None = Field(default=None, pattern=r"^\.?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")

    @field_validator("lifetime")
    @classmethod
    def readable_lifetime(cls, value: str) -> str:
        if not _LIFETIME_RE.match(value):
            raise ValueError("write `session` or a number and a unit: `30 minutes`, `24 hours`, `7 days`, `13 months`")
        return value

    @model_validator(mode="after")
    def third_parties_name_their_policy(self) -> Cookie:
        if self.party == "third" and not self.privacy_policy:
            raise ValueError(f"{self.name}: a third-party cookie needs `privacy_policy`, its provider's policy URL")
        return self

    @property
    def is_glob(self) -> bool:
        return "*" in self.name or "?" in self.name

    def lives_longer_than(self, months: int) -> bool:
        match = _LIFETIME_RE.match(self.lifetime)
        if match is None or match.group(1) == "session":
            return False
        count, unit = int(match.group(2)), match.group(3)
        if unit == "months":
            return count > months
        return count * _DAYS_PER_UNIT[unit] > MAX_LIFETIME_DAYS * months / MAX_LIFETIME_MONTHS


ConsentModeSignal = Literal["ad_storage", "analytics_storage", "ad_user_data", "ad_personalization"]
DEFAULT_CONSENT_MODE: dict[ConsentModeSignal, list[str]] = {
    "ad_storage": ["advertising"],
    "analytics_storage": ["analytics"],
    "ad_user_data": ["advertising"],
    "ad_personalization": ["advertising"],
}
DEFAULT_TABLE = "consent-receipts"
DEFAULT_REGION = "us-east-1"


class Policy(Strict):
    version: int = Field(ge=1, le=999_999_999)
    reconsent_version: int = Field(ge=1, le=999_999_999)
    site: Site
    consent_cookie: ConsentCookie = ConsentCookie()
    max_cookie_lifetime_months: int = Field(default=MAX_LIFETIME_MONTHS, ge=1, le=MAX_LIFETIME_MONTHS)
    unknown_cookies: str = "deny"
    gpc_denies: list[CategoryId] = ["advertising"]
    categories: list[Category] = Field(min_length=1, max_length=12)
    cookies: list[Cookie] = []
    # Google Consent Mode v2: a signal is granted when all its categories are.
    consent_mode: dict[ConsentModeSignal, list[CategoryId]] = DEFAULT_CONSENT_MODE

    @model_validator(mode="after")
    def consistent(self) -> Policy:
        ids = [category.id for category in self.categories]
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
        if self.consent_cookie.lifetime_days > MAX_LIFETIME_DAYS * self.max_cookie_lifetime_months // 13:
            raise ValueError("consent_cookie.lifetime_days: over max_cookie_lifetime_months")
        for signal, needed in self.consent_mode.items():
            for category in needed:
                if category not in ids:
                    raise ValueError(f"consent_mode.{signal}: {category!r} is not a category")
        worst = len("1.") + 17 + 23 + 10 + len("-".join(ids)) + 1 + 13 + 2 + 43
        if worst > token.MAX_TOKEN_BYTES:
            raise ValueError(f"categories: ids too long for a consent cookie of {token.MAX_TOKEN_BYTES} bytes")
        return self


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
    policy: Policy, keys: dict[str, Any], table: str = DEFAULT_TABLE, region: str = DEFAULT_REGION
) -> dict[str, Any]:
    """The compact configuration the edge handlers load with the standard library.

    `site` carries what the consent endpoint shows (texts, catalogue, Consent Mode
    mapping); `receipts` where it keeps the receipts.
    """

    def location(cookie: Cookie) -> dict[str, Any]:
        entry: dict[str, Any] = {"category": cookie.category}
        if cookie.path != "/":
            entry["path"] = cookie.path
        if cookie.domain:
            entry["domain"] = cookie.domain
        return entry

    site = policy.model_dump(
        mode="json",
        include={"site", "categories", "cookies", "consent_cookie", "consent_mode", "max_cookie_lifetime_months"},
    )
    script = banner.render(site, state_cookie_name(policy.consent_cookie.name), policy.reconsent_version)
    return {
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


def write_json_atomically(path: str | Path, data: dict[str, Any]) -> None:
    """Write beside the target and rename over it: a failure never leaves a half-written config."""
    target = Path(path)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    temporary.replace(target)
