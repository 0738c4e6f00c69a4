"""The compiled edge configuration: what the handlers need, loaded with the standard library.

`edge-consent policy compile` writes it from the human-edited policy; a deployed
edge package carries it as ``config.json`` beside the handler (Lambda@Edge has no
environment variables), and local runs name it in ``EDGE_CONSENT_CONFIG``.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_ENV = "EDGE_CONSENT_CONFIG"
CONFIG_FILENAME = "config.json"
CONFIG_FORMAT = 1
NECESSARY = "necessary"

# Names are cached once classified; a flood of random names must not grow memory.
_CLASSIFY_CACHE_LIMIT = 4096


class ConfigError(ValueError):
    """The compiled configuration is missing or does not have the expected shape."""


@dataclass(frozen=True)
class CookieEntry:
    """Where a catalogued cookie lives, so that it can be deleted."""

    category: str
    path: str = "/"
    domain: str | None = None


@dataclass
class EdgeConfig:
    policy_version: int
    reconsent_version: int
    categories: tuple[str, ...]
    consent_cookie_name: str
    consent_max_age: int
    max_cookie_months: int
    unknown_category: str | None  # None: cookies missing from the catalogue are denied
    gpc_denies: frozenset[str]
    signing_key_id: str
    keys: dict[str, bytes] = field(repr=False)  # never in a log or a traceback
    exact: dict[str, CookieEntry] = field(repr=False)
    patterns: tuple[tuple[str, CookieEntry], ...] = field(repr=False)
    development_key: bool = False
    policy_sha256: str = ""
    site: dict[str, Any] = field(default_factory=dict, repr=False)
    _pattern_re: re.Pattern[str] | None = field(default=None, repr=False)
    _cache: dict[str, CookieEntry | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.patterns:
            alternatives = (f"(?P<p{i}>{_glob_to_regex(glob)})" for i, (glob, _) in enumerate(self.patterns))
            self._pattern_re = re.compile("|".join(alternatives), re.DOTALL)

    def entry_for(self, name: str) -> CookieEntry | None:
        """The catalogue entry of a cookie name: exact names first, then globs in file order."""
        cache = self._cache
        if name in cache:
            return cache[name]
        entry = self.exact.get(name)
        if entry is None and self._pattern_re is not None:
            match = self._pattern_re.fullmatch(name)
            if match is not None and match.lastgroup is not None:
                entry = self.patterns[int(match.lastgroup[1:])][1]
        if len(cache) < _CLASSIFY_CACHE_LIMIT:
            cache[name] = entry
        return entry

    def category_of(self, name: str) -> str | None:
        """The category a cookie belongs to; None when it is unknown and unknown cookies are denied."""
        if name == self.consent_cookie_name:
            return NECESSARY
        entry = self.entry_for(name)
        return entry.category if entry is not None else self.unknown_category

    def is_catalogued(self, name: str) -> bool:
        return name == self.consent_cookie_name or self.entry_for(name) is not None


def _glob_to_regex(glob: str) -> str:
    """`*` matches any run of characters, `?` one; everything else is literal."""
    out = []
    for char in glob:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
    return "".join(out)


def _decode_key(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def config_from_dict(data: dict[str, Any]) -> EdgeConfig:
    """Build the runtime configuration; any missing or mistyped field is a ConfigError."""
    try:
        if data["format"] != CONFIG_FORMAT:
            raise ConfigError(f"unsupported config format {data['format']!r}")
        edge = data["edge"]
        keys = {kid: _decode_key(value) for kid, value in edge["keys"]["keys"].items()}
        signing = edge["keys"]["signing"]
        if signing not in keys:
            raise ConfigError(f"signing key {signing!r} is not among the keys")

        def entry(raw: dict[str, Any]) -> CookieEntry:
            return CookieEntry(raw["category"], raw.get("path", "/"), raw.get("domain"))

        return EdgeConfig(
            policy_version=int(edge["policy_version"]),
            reconsent_version=int(edge["reconsent_version"]),
            categories=tuple(edge["categories"]),
            consent_cookie_name=edge["consent_cookie"]["name"],
            consent_max_age=int(edge["consent_cookie"]["max_age"]),
            max_cookie_months=int(edge["max_cookie_months"]),
            unknown_category=edge["unknown_cookies"],
            gpc_denies=frozenset(edge["gpc_denies"]),
            signing_key_id=signing,
            keys=keys,
            exact={name: entry(raw) for name, raw in edge["cookies"]["exact"].items()},
            patterns=tuple((glob, entry(raw)) for glob, raw in edge["cookies"]["patterns"]),
            development_key=bool(edge["keys"].get("development", False)),
            policy_sha256=data.get("policy_sha256", ""),
            site=data.get("site", {}),
        )
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"malformed edge config: {type(exc).__name__}: {exc}") from None


_loaded: dict[str, EdgeConfig] = {}


def load_config(handler_dir: str | os.PathLike[str]) -> EdgeConfig:
    """This container's configuration, read once: ``$EDGE_CONSENT_CONFIG``, else ``config.json`` by the handler."""
    path = os.environ.get(CONFIG_ENV) or str(Path(handler_dir) / CONFIG_FILENAME)
    config = _loaded.get(path)
    if config is None:
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read edge config {path}: {type(exc).__name__}") from None
        config = _loaded[path] = config_from_dict(data)
    return config
