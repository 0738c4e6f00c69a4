"""The policy file: the default site's policy, and clear errors for bad ones."""

from __future__ import annotations

import itertools
import json
import re
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
import yaml
from consent_api import banner, site_policy
from consent_core.config import ConfigError, config_from_dict
from hypothesis import given
from hypothesis import strategies as st

from edge_consent import policy
from edge_consent.schema import MAX_LIFETIME_MONTHS
from tests.helpers.dev import ROOT

POLICY_PATH = ROOT / "policy" / "policy.yaml"
# The site's cookie notice as it stands, from which the default policy is written.
NOTICE = ROOT / "policy" / "site-cookie-notice.txt"


@pytest.fixture
def raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(POLICY_PATH.read_text(encoding="utf-8"))
    return data


def test_default_policy_describes_the_site(raw: dict[str, Any]) -> None:
    loaded = policy.parse_policy(raw)
    assert [c.id for c in loaded.categories] == ["necessary", "preferences", "analytics", "advertising", "social"]
    by_category: dict[str, set[str]] = {}
    for cookie in loaded.cookies:
        by_category.setdefault(cookie.category, set()).add(cookie.name)
    assert {"sessionid", "csrftoken", "AWSALB"} <= by_category["necessary"]
    assert {"display_prefs", "registration_draft"} <= by_category["preferences"]
    assert {"_ga", "_ga_*", "_pk_id.*", "_hjSession_*"} <= by_category["analytics"]
    assert {"_gcl_au", "_fbp", "FPID", "ad_slot_freq", "IDE"} <= by_category["advertising"]
    assert by_category["social"]
    assert loaded.consent_cookie.name == "__Host-consent" and loaded.consent_cookie.lifetime_days == 182
    assert loaded.unknown_cookies == "deny" and loaded.gpc_denies == ["advertising"]


def test_default_policy_keeps_the_notices_site_name_and_its_promise() -> None:
    notice = NOTICE.read_text(encoding="utf-8")
    assert "Planète micro-entreprises" in notice
    assert policy.load_policy(POLICY_PATH).site.name == "Planète micro-entreprises"
    # "commits to exploiting cookies for a maximum of thirteen months": the policy's cap on lifetimes.
    assert "for a maximum of thirteen months" in notice and MAX_LIFETIME_MONTHS == 13


def test_shipped_dev_config_is_the_compiled_policy() -> None:
    """`make config` was run after the last policy edit."""
    shipped = json.loads((ROOT / "policy" / "config.dev.json").read_text(encoding="utf-8"))
    compiled = policy.compile_policy(policy.load_policy(POLICY_PATH), policy.load_keys(None))
    assert shipped == compiled
    assert shipped["edge"]["keys"]["development"] is True


def mutate(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = deepcopy(raw)
    node: Any = data
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "consent_cookie.lifetime_days",
            400,
            "consent_cookie.lifetime_days: Input should be less than or equal to 393",
        ),
        ("max_cookie_lifetime_months", 24, "max_cookie_lifetime_months: Input should be less than or equal to 13"),
        ("cookies.0.category", "marketing", "sessionid names category 'marketing', which is not defined"),
        ("cookies.7.lifetime", "2 years", "cookies[7] (_ga).lifetime: write `session` or a number and a unit"),
        ("cookies.7.lifetime", "14 months", "_ga lives 14 months, over 13 months"),
        ("cookies.7.privacy_policy", None, "_ga: a third-party cookie needs `privacy_policy`"),
        ("categories.1.id", "Preferences", "categories[1] (Preferences).id: String should match pattern"),
        ("categories.0.id", "essential", "`necessary` is required"),
        ("gpc_denies", ["necessary"], "gpc_denies: 'necessary' is not a category that can be refused"),
        ("unknown_cookies", "allow", "unknown_cookies: `deny` or a category id"),
        ("reconsent_version", 9, "reconsent_version: cannot be above version"),
        ("consent_cookie.name", "__host-consent", "write the prefix as __Host-"),
        ("cookies.0.name", "bad name", "cookies[0] (bad name).name: String should match pattern"),
        ("cookies.1.name", "sessionid", "sessionid is listed twice"),
        (  # display_prefs renamed: Matomo's `_pk_id.1` reaches PHP as `$_COOKIE['_pk_id_1']`
            "cookies.5.name",
            "_pk_id_1",
            "cookies: PHP reads _pk_id_1 (preferences) and _pk_id.1 (_pk_id.*, analytics) as one cookie",
        ),
        ("cookies.5.name", "_GA", "cookies: ASP.NET Core reads _GA (preferences) and _ga (analytics) as one cookie"),
        (
            "cookies.5.name",
            "__HOST-consent",
            "ASP.NET Core reads __HOST-consent (__HOST-consent) as the consent cookie",
        ),
        ("site.colour", "blue", "site.colour: Extra inputs are not permitted"),
        ("categories.2.name", {"fr": "Mesure"}, "categories[2] (analytics).name: missing en"),
        ("consent_mode", {"ad_storage": ["marketing"]}, "consent_mode.ad_storage: 'marketing' is not a category"),
        ("consent_mode", {"sms_storage": ["analytics"]}, "consent_mode.sms_storage: Input should be"),
    ],
)
def test_bad_policy_errors_name_the_field(raw: dict[str, Any], path: str, value: Any, message: str) -> None:
    with pytest.raises(policy.PolicyError, match=re.escape(message)):
        policy.parse_policy(mutate(raw, path, value))


def test_compile_writes_nothing_for_a_bad_policy(tmp_path: Path, raw: dict[str, Any]) -> None:
    from edge_consent.cli import main

    bad = tmp_path / "policy.yaml"
    bad.write_text(yaml.safe_dump(mutate(raw, "cookies.0.category", "marketing")), encoding="utf-8")
    out = tmp_path / "config.json"
    assert main(["policy", "compile", str(bad), "-o", str(out)]) == 2
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_compiled_config_loads_with_the_standard_library_only(tmp_path: Path) -> None:
    compiled = policy.compile_policy(policy.load_policy(POLICY_PATH), policy.load_keys(None))
    config = config_from_dict(json.loads(json.dumps(compiled)))
    assert config.classify("_ga_XYZ123")[0] == "analytics"
    assert config.classify("_pk_id.1.abcd")[0] == "analytics"
    assert config.classify("_hjSession_42")[0] == "analytics"
    assert config.classify("sessionid")[0] == "necessary"
    assert config.classify("__Host-consent")[0] == "necessary"
    assert config.classify("somethingelse")[0] is None
    assert config.consent_max_age == 182 * 86400
    assert (
        config.banner_path
        == banner.render(site_policy.Site.of(config), config.state_cookie_name, config.reconsent_version).path
    )


@pytest.mark.parametrize(
    "path",
    [
        "https://cdn.example/banner.js",
        "/consent/banner.js\r\nX-Evil: 1",
        "/consent/banner.ABCDEF0123456789.js",
        "/consent/banner.0123456789abcde.js",
        "/consent/banner.0123456789abcdef0.js",
        "/consent/banner.0123456789abcde .js",
        42,
    ],
)
def test_a_config_naming_another_banner_is_refused(path: Any) -> None:
    """The path goes into a header to the origin and from there into pages: only our own script's."""
    compiled = policy.compile_policy(policy.load_policy(POLICY_PATH), policy.load_keys(None))
    compiled["edge"]["banner"] = path
    with pytest.raises(ConfigError, match="banner: "):
        config_from_dict(compiled)
    del compiled["edge"]["banner"]  # a config from before versioned banners: the stable path
    assert config_from_dict(compiled).banner_path == "/consent/banner.js"
    compiled["edge"]["banner"] = "/consent/banner.0123456789abcdef.js"
    assert config_from_dict(compiled).banner_path == "/consent/banner.0123456789abcdef.js"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"signing": "a", "keys": {"a": "c2hvcnQ"}}, "keys.a: 5 bytes, at least 32 needed"),
        ({"signing": "b", "keys": {"a": "A" * 43}}, "keys.signing: 'b' is not one of the keys"),
        ({"signing": "a.b", "keys": {"a.b": "A" * 43}}, "key id 'a.b' must be"),
        ({"keys": {}}, "keys: expected"),
    ],
)
def test_bad_keys(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(policy.PolicyError, match=re.escape(message)):
        policy.parse_keys(keys)


def test_policy_hash_ignores_formatting_and_keys(raw: dict[str, Any]) -> None:
    one = policy.parse_policy(raw)
    two = policy.parse_policy(yaml.safe_load(yaml.safe_dump(raw, sort_keys=True)))
    assert policy.policy_sha256(one) == policy.policy_sha256(two)
    changed = policy.parse_policy(mutate(raw, "cookies.0.lifetime", "15 days"))
    assert policy.policy_sha256(changed) != policy.policy_sha256(one)


# --- What origins read alike ---------------------------------------------------------

READINGS = dict(policy._ORIGIN_READINGS)
small_globs = st.text("a_.A*?", min_size=1, max_size=5)


def _matches(glob: str, name: str) -> bool:
    return (
        re.fullmatch("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob), name) is not None
    )


@given(small_globs, small_globs, st.sampled_from(sorted(READINGS)))
def test_lookalike_pairs_are_found_whenever_they_exist(first: str, second: str, origin: str) -> None:
    """Against every name of up to 5 characters of `a_.A` (the globs' wildcards reach further, never shorter)."""
    classes = READINGS[origin]
    pair = policy.lookalike_pair(first, second, classes)
    if pair is not None:
        x, y = pair
        assert _matches(first, x) and _matches(second, y) and x != y
        assert all(b in classes[a] for a, b in zip(x, y, strict=True))
        return
    for length in range(6):
        for x in map("".join, itertools.product("a_.A", repeat=length)):
            if not _matches(first, x):
                continue
            for y in map("".join, itertools.product(*(classes[c] for c in x))):
                assert not (y != x and _matches(second, y)), (x, y)


def test_a_cookie_php_reads_as_the_consent_cookie_is_refused(raw: dict[str, Any]) -> None:
    data = mutate(mutate(raw, "consent_cookie.name", "site_consent"), "cookies.5.name", "site.consent")
    with pytest.raises(policy.PolicyError, match=re.escape("PHP reads site.consent (site.consent) as the consent")):
        policy.parse_policy(data)


def test_an_exact_name_php_reads_as_itself_may_override_a_glob() -> None:
    # `_ga_*` matches no other name PHP reads as `_ga_special`; ASP.NET Core reads `_GA_SPECIAL` so.
    assert policy.lookalike_pair("_ga_special", "_ga_*", READINGS["PHP"]) is None
    assert policy.lookalike_pair("_ga_special", "_ga_*", READINGS["ASP.NET Core"]) is not None
