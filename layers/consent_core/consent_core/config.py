"""The compiled edge configuration: what the handlers need, loaded with the standard library.

`edge-consent policy compile` writes it from the human-edited policy; a deployed
edge package carries it as ``config.json`` beside the handler (Lambda@Edge has no
environment variables), and local runs name it in ``EDGE_CONSENT_CONFIG``.
"""

from __future__ import annotations

import json
import os
import re

from .cookies import is_token
from .signing import read_keys

TYPE_CHECKING = False  # `typing` costs a cold start 3 to 4 ms: mypy alone reads it
if TYPE_CHECKING:
    from typing import Any, Final, NamedTuple
else:
    from .records import NamedTuple

CONFIG_ENV = "EDGE_CONSENT_CONFIG"
CONFIG_FILENAME = "config.json"
CONFIG_FORMAT: Final = 1
NECESSARY = "necessary"
# The consent endpoint's paths (the template sends it /consent and /consent/*): its routes, the
# links of its pages and of the banner, which it serves under BANNER_PATH_PREFIX, as `js` (the
# stable path) or `<BANNER_VERSION_DIGITS hex digits>.js` (the policy's, named in the config).
CONSENT_PATHS = {
    "consent": "/consent",  # POST: record a choice; GET: the state
    "preferences": "/consent/preferences",
    "cookies": "/consent/cookies",
    "receipt": "/consent/receipt",
}
BANNER_PATH_PREFIX = CONSENT_PATHS["consent"] + "/banner."
BANNER_VERSION_DIGITS = 16
STABLE_BANNER_PATH = BANNER_PATH_PREFIX + "js"
DEFAULT_TABLE = "edge-consent-receipts"  # receipts.yaml's table and region, unless told otherwise
DEFAULT_REGION = "eu-west-3"
RECEIPT_MONTHS = 13  # how long a receipt lives (its TTL), and so a key that sealed it

# Names are cached once classified; a flood of random names must not grow memory.
_CLASSIFY_CACHE_LIMIT = 4096


_MISSING = object()

# What viewer-request does with a cookie name under a given grant (see EdgeConfig.action).
KEEP, KEEP_UNKNOWN, STRIP, DROP_UNKNOWN, CONSENT = 0, 1, 2, 3, 4


class ConfigError(ValueError):
    """The compiled configuration is missing or does not have the expected shape."""


class CookieEntry(NamedTuple):
    """Where a catalogued cookie lives, so that it can be deleted."""

    category: str
    path: str = "/"
    domain: str | None = None


class EdgeConfig:
    """The edge's view of the policy. A plain class: `dataclasses` would cost a viewer cold start 7 ms."""

    def __init__(
        self,
        *,
        policy_version: int,
        reconsent_version: int,
        categories: tuple[str, ...],
        consent_cookie_name: str,
        consent_max_age: int,
        max_cookie_months: int,
        unknown_category: str | None,  # None: cookies missing from the catalogue are denied
        gpc_denies: frozenset[str],
        signing_key_id: str,
        keys: dict[str, bytes],
        exact: dict[str, CookieEntry],
        patterns: tuple[tuple[str, CookieEntry], ...],
        development_key: bool = False,
        policy_sha256: str = "",
        site: dict[str, Any] | None = None,
        receipts: dict[str, Any] | None = None,
        banner_path: str = STABLE_BANNER_PATH,
        static_paths: tuple[str, ...] = (),
    ) -> None:
        self.policy_version = policy_version
        self.reconsent_version = reconsent_version
        self.categories = categories
        self.category_set = frozenset(categories)
        self.consent_cookie_name = consent_cookie_name
        # Readable by the page's scripts, and never trusted here: see consent.state_cookie_value.
        self.state_cookie_name = state_cookie_name(consent_cookie_name)
        self.consent_max_age = consent_max_age
        self.max_cookie_months = max_cookie_months
        self.unknown_category = unknown_category
        self.gpc_denies = gpc_denies
        self.signing_key_id = signing_key_id
        self.keys = keys
        self.exact = exact
        self.patterns = patterns
        self.development_key = development_key
        self.development_key_announced = False
        self.policy_sha256 = policy_sha256
        self.site = site or {}
        # table, region, and the regions of its other replicas (a global table)
        self.receipts = receipts or {"table": DEFAULT_TABLE, "region": DEFAULT_REGION, "replicas": ()}
        self.banner_path = banner_path  # the banner script this policy's pages load (x-consent-banner)
        # The distribution's static behaviours (template StaticPathPatterns), which no function
        # but origin-response sees: the paths a cookie scoped to them has, for the consent
        # endpoint to delete refused cookies there.
        self.static_cookie_paths = static_cookie_paths(static_paths)
        self._cache: dict[str, CookieEntry | None] = {}
        self._class_cache: dict[str, tuple[str | None, bool]] = {}
        self._actions: dict[frozenset[str], dict[str, int]] = {}
        self.verified_tokens: dict[str, Any] = {}  # consent-cookie value -> its verified content
        self._pattern_re: re.Pattern[str] | None = None
        self._folded_pattern_re: re.Pattern[str] | None = None
        if patterns:
            alternatives = "|".join(f"(?P<p{i}>{_glob_to_regex(glob)})" for i, (glob, _) in enumerate(patterns))
            self._pattern_re = re.compile(alternatives, re.DOTALL)
            self._folded_pattern_re = re.compile(alternatives, re.DOTALL | re.IGNORECASE)
        self._folded_exact: dict[str, CookieEntry] = {}
        for exact_name, exact_entry in exact.items():
            self._folded_exact.setdefault(exact_name.lower(), exact_entry)
        self._php_catalogue: tuple[dict[str, CookieEntry], re.Pattern[str] | None] | None = None

    def __repr__(self) -> str:
        # Never the keys: a config may end up in a log or a traceback.
        return f"EdgeConfig(policy_version={self.policy_version}, categories={self.categories})"

    def entry_for(self, name: str) -> CookieEntry | None:
        """The catalogue entry of a cookie name: exact names first, then globs in file order."""
        cache = self._cache
        entry = cache.get(name, _MISSING)
        if entry is not _MISSING:
            return entry  # type: ignore[return-value]
        entry = self._lookup(self.exact, self._pattern_re, name)
        if len(cache) < _CLASSIFY_CACHE_LIMIT:
            cache[name] = entry
        return entry

    def classify(self, name: str) -> tuple[str | None, bool]:
        """(category the cookie is treated as, whether the catalogue knows it); cached for the hot path."""
        known = self._class_cache.get(name)
        if known is None:
            entry = self.entry_for(name)
            if name == self.consent_cookie_name or name == self.state_cookie_name:
                known = (NECESSARY, True)
            elif entry is not None and is_token(name):
                known = (entry.category, True)
            elif entry is not None:
                # A glob matched a name no origin reads whole: ASP.NET Core reads `_ga_1)_GCL_AU=0`
                # as `_GCL_AU`, whatever `_ga_*` grants.
                known = (None, False)
            else:
                known = (self._unknown_category_of(name), False)
            if len(self._class_cache) < _CLASSIFY_CACHE_LIMIT:
                self._class_cache[name] = known
        return known

    def _unknown_category_of(self, name: str) -> str | None:
        """A name missing from the catalogue takes the category of the catalogued name an origin reads it as.

        Each origin's reading is applied to both sides. ASP.NET Core reads names in any case
        (`_FBP` is `_fbp`). PHP turns dots into `_` in every name, the catalogue's too:
        `_pk_id_1_a1b2` and `.pk.id.1.a1b2` are `$_COOKIE['_pk_id_1_a1b2']`, where Matomo's
        tracker reads `_pk_id.1.a1b2`. Node's `cookie` and Express read a token name as it is.
        A name that is not an RFC 7230 token is denied: after a character a name cannot hold,
        ASP.NET Core reads on, into the value (`x@y=_fbp=1` is `_fbp`), and PHP reads
        `_fbp[id]` as the array `_fbp`. So is a name whose readings disagree, or one read as
        the consent cookie; any other keeps `unknown_cookies`' category.
        """
        if self.unknown_category is None or not is_token(name):
            return None
        php_key = php_cookie_name(name)
        consent = self.consent_cookie_name
        if name.lower() == consent.lower() or php_key == php_cookie_name(consent):
            return None
        categories = {entry.category for entry in (self._folded_entry(name), self._php_entry(php_key)) if entry}
        if not categories:
            return self.unknown_category
        return categories.pop() if len(categories) == 1 else None

    def _folded_entry(self, name: str) -> CookieEntry | None:
        """The catalogue entry of `name` in any case (ASP.NET Core's reading)."""
        return self._lookup(self._folded_exact, self._folded_pattern_re, name.lower())

    def _php_entry(self, key: str) -> CookieEntry | None:
        """The entry of the catalogued name PHP reads under `key` (exact names first, as `entry_for`).

        Made on first use: a policy that denies unknown cookies never needs it.
        """
        if self._php_catalogue is None:
            exact: dict[str, CookieEntry] = {}
            for exact_name, exact_entry in self.exact.items():
                exact.setdefault(php_cookie_name(exact_name), exact_entry)
            alternatives = "|".join(
                f"(?P<p{i}>{_glob_to_regex(php_cookie_name(glob))})" for i, (glob, _) in enumerate(self.patterns)
            )
            self._php_catalogue = (exact, re.compile(alternatives, re.DOTALL) if self.patterns else None)
        return self._lookup(*self._php_catalogue, key)

    def _lookup(
        self, exact: dict[str, CookieEntry], pattern_re: re.Pattern[str] | None, name: str
    ) -> CookieEntry | None:
        """An exact name's entry, else that of the first glob (in file order) the name matches."""
        entry = exact.get(name)
        if entry is None and pattern_re is not None:
            match = pattern_re.fullmatch(name)
            if match is not None and match.lastgroup is not None:
                entry = self.patterns[int(match.lastgroup[1:])][1]
        return entry

    def actions_for(self, granted: frozenset[str]) -> dict[str, int]:
        """The cached action of each name already seen under this grant (a few grants, a few names each)."""
        actions = self._actions.get(granted)
        if actions is None:
            actions = self._actions[granted] = {self.consent_cookie_name: CONSENT}
        return actions

    def action(self, name: str, granted: frozenset[str]) -> int:
        """KEEP or KEEP_UNKNOWN (granted), STRIP (catalogued, refused) or DROP_UNKNOWN; cached."""
        category, catalogued = self.classify(name)
        if category in granted:
            action = KEEP if catalogued else KEEP_UNKNOWN
        else:
            action = STRIP if catalogued else DROP_UNKNOWN
        actions = self.actions_for(granted)
        if len(actions) < _CLASSIFY_CACHE_LIMIT:
            actions[name] = action
        return action


def static_cookie_paths(patterns: tuple[str, ...]) -> tuple[str, ...]:
    """The cookie paths under CloudFront path patterns: `/static/*` gives `/static` and `/static/`.

    A cookie set from `/static/app.js` without a Path has `/static`; with `Path=/static/`,
    `/static/`. CloudFront reads `static/*` as `/static/*`; a pattern that starts with no
    directory (`*.css`) gives none.
    """
    paths: list[str] = []
    for pattern in patterns:
        head = "/" + pattern.split("*", 1)[0].split("?", 1)[0].lstrip("/")
        directory = head[: head.rfind("/")]
        for path in (directory, directory + "/"):
            if directory and path not in paths:
                paths.append(path)
    return tuple(paths)


def state_cookie_name(consent_cookie_name: str) -> str:
    """The readable companion of the signed consent cookie, which the banner reads."""
    return consent_cookie_name + "-state"


def php_cookie_name(name: str) -> str:
    """The `$_COOKIE` key PHP 8 makes of a cookie name (main/php_variables.c, php_register_variable_ex).

    Leading whitespace goes; spaces and dots become `_`; `a[b]` is the array `a`; an
    unmatched `[` becomes `_` along with every later space, dot and `[`.
    """
    name = name.lstrip(" \t\n\v\f\r")
    head, bracket, rest = name.partition("[")
    head = head.replace(" ", "_").replace(".", "_")
    if not bracket or not head or "]" in rest:
        return head
    return head + "_" + rest.replace(" ", "_").replace(".", "_").replace("[", "_")


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


def config_from_dict(data: dict[str, Any]) -> EdgeConfig:
    """Build the runtime configuration; any missing or mistyped field is a ConfigError."""
    try:
        if data["format"] != CONFIG_FORMAT:
            raise ConfigError(f"unsupported config format {data['format']!r}")
        edge = data["edge"]
        signing, keys = read_keys(edge["keys"])
        receipts = data.get("receipts")
        if receipts is not None:
            receipts = {
                "table": str(receipts["table"]),
                "region": str(receipts["region"]),
                "replicas": tuple(str(region) for region in receipts.get("replicas", ())),
                # when the stack began to seal receipts, if the keys secret says (signing.sealed_since)
                **({"sealed_since": str(receipts["sealed_since"])} if "sealed_since" in receipts else {}),
            }

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
            receipts=receipts,
            banner_path=_banner_path(edge.get("banner", STABLE_BANNER_PATH)),
            static_paths=tuple(str(pattern) for pattern in edge.get("static_paths", ())),
        )
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"malformed edge config: {type(exc).__name__}: {exc}") from None


def _banner_path(path: Any) -> str:
    """`/consent/banner.js` or `/consent/banner.<16 lowercase hex digits>.js` (no regex: one less to compile)."""
    start = len(BANNER_PATH_PREFIX)
    versioned = isinstance(path, str) and path[:start] == BANNER_PATH_PREFIX and path[-3:] == ".js"
    version = path[start:-3] if versioned else ""
    if path != STABLE_BANNER_PATH and not (
        len(version) == BANNER_VERSION_DIGITS and not version.strip("0123456789abcdef")
    ):
        raise ConfigError(f"banner: {path!r} is not {BANNER_PATH_PREFIX}[<{BANNER_VERSION_DIGITS} hex digits>.]js")
    return str(path)


_loaded: dict[str, EdgeConfig] = {}  # handler directory -> its config, for the container's life


def load_config(handler_dir: str) -> EdgeConfig:
    """This container's configuration, read once: ``$EDGE_CONSENT_CONFIG``, else ``config.json`` by the handler."""
    config = _loaded.get(handler_dir)
    if config is None:
        path = os.environ.get(CONFIG_ENV) or os.path.join(handler_dir, CONFIG_FILENAME)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read edge config {path}: {type(exc).__name__}") from None
        config = _loaded[handler_dir] = config_from_dict(data)
    return config


def forget_loaded_configs() -> None:
    """Start over as a new container would: the next request reads its config again."""
    _loaded.clear()
