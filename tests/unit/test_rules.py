"""One home per rule: every place that applies a rule gives the same answer on its edge cases.

Each rule is defined once, in the layer that owns it (the core for what the edge reads,
`edge_consent.schema` for the policy), and imported everywhere else. These tests ask every
place that applies a rule, and hold the answers to the rule as written here: a copy written
again in one place, and changed there, fails its test.
"""

from __future__ import annotations

import ast
import io
import re
import string
import tokenize
import typing
from collections.abc import Callable
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from consent_api import banner, pages, routes, site_policy, texts
from consent_api.adapter import Request
from consent_api.models import Submission
from consent_api.store import ReceiptStore
from consent_core import cookies, dates, expiry, signing, token
from consent_core.config import (
    CONFIG_FORMAT,
    CONSENT_PATHS,
    STABLE_BANNER_PATH,
    ConfigError,
    config_from_dict,
)
from consent_edge import cloudfront
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from edge_consent import policy
from edge_consent.schema import (
    CategoryId,
    CompiledConfig,
    ConsentCookie,
    Cookie,
    CookieLocation,
    CookieName,
    SiteInfo,
)
from tests.helpers.dev import DEV_CONFIG, NOW, ROOT, load_dev_config_dict

# The product's own sources: what the rules below hold (the tests build events their own way).
SOURCES = sorted(
    path
    for folder in ("functions", "layers", "src", "benchmarks", "deploy", "tools")
    for path in (ROOT / folder).rglob("*.py")
)
KEYS = {"k1": b"k" * 32}


def accepted(validate: Callable[[str], object], value: str) -> bool:
    try:
        validate(value)
    except (ValidationError, ValueError):
        return False
    return True


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def cookie(**fields: str) -> Cookie:
    """A catalogue entry with these fields, the others plain."""
    base = {"name": "_ga", "category": "analytics", "provider": "Google", "purpose": {"fr": "x", "en": "x"}}
    return Cookie.model_validate({"lifetime": "13 months", **base, **fields})


# --- The category id: consent_core.token -------------------------------------------------

CATEGORY_IDS = {
    "a": True,
    "analytics": True,
    "ads_2": True,
    "a" * 32: True,
    "a" * 33: False,  # the longest id is 32 characters, in the policy and in the consent cookie
    "": False,
    "2fa": False,
    "_ads": False,
    "Ads": False,
    "ads-x": False,  # `-` joins the ids in the cookie
    "ads.x": False,  # `.` ends the cookie's field
    "ads x": False,
    "ads\n": False,  # what `$` would let through
    "publicité": False,
}
CATEGORY_ID = TypeAdapter(CategoryId)


def cookie_grants(category_id: str) -> bool:
    """Whether a consent cookie signed over this category field verifies and grants it."""
    payload = f"1.k1.{'A' * 22}.3.{category_id}.{NOW}.0"
    signature = signing.b64url_encode(signing.hmac_sha256(KEYS["k1"], token._PURPOSE + payload.encode()))
    parsed = token.verify(f"{payload}.{signature}", KEYS)
    return parsed is not None and category_id in parsed.categories


def issued(category_id: str) -> bool:
    try:
        token.issue(KEYS, "k1", 3, {category_id}, NOW)
    except token.TokenError:
        return False
    return True


def submitted(category_id: str) -> Submission:
    return Submission(action="custom", categories=(category_id,), submission_id="rules-0001")


def category_id_readings(text: str) -> dict[str, bool]:
    return {
        "token.is_category_id": token.is_category_id(text),
        "token.issue": issued(text),
        "token.verify": cookie_grants(text),
        "schema.CategoryId": accepted(CATEGORY_ID.validate_python, text),
        "models.Submission": accepted(submitted, text),
    }


@pytest.mark.parametrize(("text", "valid"), CATEGORY_IDS.items(), ids=repr)
def test_a_category_id_is_read_alike_by_the_cookie_the_policy_and_the_endpoint(text: str, valid: bool) -> None:
    readings = category_id_readings(text)
    assert readings == dict.fromkeys(readings, valid)


@given(st.one_of(st.text(max_size=40), st.from_regex(r"[a-z][a-z0-9_]{0,40}", fullmatch=True)))
def test_any_text_is_a_category_id_everywhere_or_nowhere(text: str) -> None:
    assert len(set(category_id_readings(text).values())) == 1


# --- The cookie name: consent_core.cookies.TOKEN_CHARACTERS --------------------------------

RFC_7230_TCHAR = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)
COOKIE_NAME = TypeAdapter(CookieName)


def name_readings(name: str) -> dict[str, bool]:
    return {
        "cookies.is_token": cookies.is_token(name),
        "schema.CookieName": accepted(COOKIE_NAME.validate_python, name),
        "schema.ConsentCookie": accepted(lambda n: ConsentCookie.model_validate({"name": n}), name),
    }


@pytest.mark.parametrize("character", [chr(code) for code in range(128)] + ["é", "\u3000"], ids=repr)
def test_a_cookie_name_holds_the_same_characters_everywhere(character: str) -> None:
    """RFC 7230 tchar, in a name the edge reads, a catalogue name and the consent cookie's; `?` is a glob's alone."""
    token_character = character in RFC_7230_TCHAR
    assert name_readings(f"x{character}y") == {
        "cookies.is_token": token_character,
        "schema.CookieName": token_character or character == "?",
        "schema.ConsentCookie": token_character,
    }


@pytest.mark.parametrize(
    ("name", "catalogue", "consent_cookie"),
    [
        ("", False, False),
        ("a" * 64, True, True),
        ("a" * 65, True, False),
        ("a" * 128, True, False),
        ("a" * 129, False, False),
    ],
)
def test_cookie_name_lengths(name: str, catalogue: bool, consent_cookie: bool) -> None:
    assert name_readings(name) == {
        "cookies.is_token": bool(name),
        "schema.CookieName": catalogue,
        "schema.ConsentCookie": consent_cookie,
    }


def test_the_policy_reads_origins_over_the_same_characters() -> None:
    for _origin, classes in policy._ORIGIN_READINGS:
        assert set(classes) == RFC_7230_TCHAR


# --- A cookie's Domain and Path: consent_core.cookies ---------------------------------------

DOMAINS = {  # value: (as a cookie's Domain, as the site's domain)
    "example.fr": (True, True),
    "www.Example.FR": (True, True),
    "xn--bcher-kva.example": (True, True),
    "a": (True, True),
    ".example.fr": (True, False),
    "..example.fr": (False, False),
    "example.fr.": (False, False),
    "-example.fr": (False, False),
    "ex_ample.fr": (False, False),
    "exa mple.fr": (False, False),
    "exämple.fr": (False, False),
    "example.fr\n": (False, False),
    ".": (False, False),
    "": (False, False),
}


def deletion_attribute(attribute: str, value: str) -> list[str]:
    """The attribute's values in the deletion the edge writes for a line that sets it to `value`."""
    line = expiry.deletion_for(f"x=1; {attribute.capitalize()}={value}")
    return [found for _, name, found in cookies._attributes(line) if name == attribute]


@pytest.mark.parametrize(("domain", "valid"), DOMAINS.items(), ids=repr)
def test_a_domain_is_read_alike_by_deletions_the_catalogue_and_the_compiled_config(
    domain: str, valid: tuple[bool, bool]
) -> None:
    as_cookie_domain, as_site_domain = valid
    assert (deletion_attribute("domain", domain) == [domain]) == as_cookie_domain
    assert accepted(lambda d: cookie(domain=d), domain) == as_cookie_domain
    assert accepted(lambda d: CookieLocation(category="analytics", domain=d), domain) == as_cookie_domain
    site = {"name": "x", "controller": "x", "contact": "x@y.z", "privacy_policy_url": "/p"}
    assert accepted(lambda d: SiteInfo.model_validate({**site, "domain": d}), domain) == as_site_domain


PATHS = {
    "/": True,
    "/shop": True,
    "/shop/": True,
    '/~user/%7E,a"b': True,
    "shop": False,
    "": False,
    "/a b": False,
    "/a\tb": False,
    "/café": False,
    "/a\x7f": False,
}


@pytest.mark.parametrize(("path", "valid"), PATHS.items(), ids=repr)
def test_a_cookie_path_is_read_alike_by_deletions_the_catalogue_and_the_compiled_config(path: str, valid: bool) -> None:
    assert (deletion_attribute("path", path) == [path]) == valid
    assert accepted(lambda p: cookie(path=p), path) == valid
    assert accepted(lambda p: CookieLocation(category="analytics", path=p), path) == valid


# --- The lifetime of a catalogued cookie: edge_consent.schema.LIFETIME_RE ---------------------

LIFETIMES = {
    "session": True,
    "1 minutes": True,
    "24 hours": True,
    "1 days": True,
    "400 days": True,
    "13 months": True,
    # No cookie of the catalogue lives no time at all (that is a deletion); one that lives as
    # long as the browser is `session`.
    "0 days": False,
    "0 minutes": False,
    "01 days": False,
    "-1 days": False,
    "1 day": False,
    "7 Days": False,
    "2 weeks": False,
    "7  days": False,
    " 7 days": False,
    "7 days\n": False,
    "Session": False,
    "": False,
}


def shown_as_a_lifetime(lifetime: str) -> bool:
    """Whether the cookie page writes it out in words (an unexpected value is shown as it is)."""
    return lifetime == "session" or texts.lifetime_text(lifetime, "fr") != lifetime


@pytest.mark.parametrize(("lifetime", "valid"), LIFETIMES.items(), ids=repr)
def test_a_lifetime_is_read_alike_by_the_policy_and_the_cookie_page(lifetime: str, valid: bool) -> None:
    assert accepted(lambda value: cookie(lifetime=value), lifetime) == valid
    assert shown_as_a_lifetime(lifetime) == valid


# --- Days from a civil date: consent_core.dates ------------------------------------------------

DAYS = [
    date(1, 1, 1),
    date(1600, 2, 29),
    date(1601, 1, 1),
    date(1969, 12, 31),
    date(1970, 1, 1),
    date(2000, 2, 29),
    date(2024, 2, 29),
    date(2100, 2, 28),
    date(2100, 3, 1),
    date(9999, 12, 31),
]
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_every_cookie_date_reader_counts_days_alike(day: date) -> None:
    days = day.toordinal() - date(1970, 1, 1).toordinal()
    assert dates.days_from_civil(day.year, day.month, day.day) == days
    moment = days * 86400 + 12 * 3600 + 30 * 60 + 15
    assert dates.epoch_seconds(day.year, day.month, day.day, 12, 30, 15) == moment
    if day.year >= 1601:  # what no cookie date reader reads as a date
        month = dates.MONTHS[day.month - 1].capitalize()
        text = f"{WEEKDAYS[day.weekday()]}, {day.day:02d} {month} {day.year:04d} 12:30:15 GMT"
        readings = {
            "rfc6265": dates.parse_cookie_date(text),
            "chromium": expiry.chromium_date(text),
            "firefox": expiry.firefox_date(text),
        }
        assert readings == dict.fromkeys(readings, float(moment))


def test_days_from_a_civil_date_are_counted_in_one_place() -> None:
    """The algorithm's epoch shift (days from 0000-03-01 to 1970-01-01) is written once."""
    assert [relative(path) for path in SOURCES if "719468" in path.read_text(encoding="utf-8")] == [
        "layers/consent_core/consent_core/dates.py"
    ]


# --- The receipts' retention: consent_core.config.RECEIPT_MONTHS -------------------------------

MONTH_CONSTANTS = re.compile(r"(RECEIPT_MONTHS|MAX_LIFETIME_MONTHS) = 13\b")


def numbers_on_month_lines(path: Path) -> list[str]:
    """Each `13` written as a number on a line that speaks of months (`13` in a text or a comment aside)."""
    text = path.read_text(encoding="utf-8")
    found = []
    for item in tokenize.generate_tokens(io.StringIO(text).readline):
        line = item.line.strip()
        if item.type == tokenize.NUMBER and item.string == "13" and "month" in line.lower():
            found += [] if MONTH_CONSTANTS.match(line) else [f"{relative(path)}:{item.start[0]}: {line}"]
    return found


def months_added_by_number(path: Path) -> list[str]:
    """Calls of `add_calendar_months` given a number of months rather than its name."""
    calls = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
            function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if function == "add_calendar_months":
                calls.append(f"{relative(path)}:{node.lineno}")
    return calls


def test_no_number_stands_for_a_number_of_months() -> None:
    assert [line for path in SOURCES for line in numbers_on_month_lines(path)] == []
    assert [call for path in SOURCES for call in months_added_by_number(path)] == []


@pytest.mark.parametrize(
    "module",
    [
        "functions/consent_api/service.py",  # a receipt's TTL
        "functions/consent_api/models.py",  # an unsealed receipt older than any receipt lives
        "src/edge_consent/receipts.py",  # a missing predecessor that should still live
        "src/edge_consent/keys.py",  # when a retired key may go
    ],
)
def test_every_receipt_lifetime_reads_the_one_retention(module: str) -> None:
    imported = {
        alias.name
        for node in ast.walk(ast.parse((ROOT / module).read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module == "consent_core.config"
        for alias in node.names
    }
    assert "RECEIPT_MONTHS" in imported


# --- The consent endpoint's paths: consent_core.config.CONSENT_PATHS ----------------------------


def test_the_routes_are_the_table_of_paths() -> None:
    assert {path for _method, path in routes.ROUTES} == set(CONSENT_PATHS.values())


def test_the_pages_and_the_banner_link_to_the_table_of_paths() -> None:
    site = site_policy.Site.of(DEV_CONFIG)
    preferences = pages.render_preferences(site, "fr", None, "absent", "rules-0001", "/")
    cookie_page = pages.render_cookie_page(site, "fr")
    assert f'action="{CONSENT_PATHS["consent"]}"' in preferences
    assert f'href="{CONSENT_PATHS["cookies"]}"' in preferences
    assert f'href="{CONSENT_PATHS["preferences"]}"' in cookie_page
    links = banner.links(site)
    assert (links["preferences"], links["cookies"]) == (CONSENT_PATHS["preferences"], CONSENT_PATHS["cookies"])
    # The script posts choices where the endpoint takes them (a literal: the script's bytes name its version).
    source = Path(banner.SOURCE).read_text(encoding="utf-8")
    assert re.findall(r'const API = "([^"]*)";', source) == [CONSENT_PATHS["consent"]]


@pytest.mark.parametrize("path", [STABLE_BANNER_PATH, DEV_CONFIG.banner_path])
def test_the_banner_paths_the_edge_accepts_are_the_ones_the_endpoint_serves(path: str) -> None:
    compiled = load_dev_config_dict()
    compiled["edge"]["banner"] = path
    assert config_from_dict(compiled).banner_path == path
    request = Request("GET", path, "", {}, b"", False, None)
    answer = routes.route(request, DEV_CONFIG, cast(ReceiptStore, None), NOW)
    assert answer.status == 200
    # Its own version is kept a year: the endpoint renders the script the config names.
    assert ("immutable" in answer.headers["Cache-Control"]) == (path != STABLE_BANNER_PATH)
    assert banner.VERSIONED_PATH_RE.fullmatch(path) or path == STABLE_BANNER_PATH


def test_a_banner_path_of_another_shape_is_refused_by_the_edge() -> None:
    compiled = load_dev_config_dict()
    compiled["edge"]["banner"] = DEV_CONFIG.banner_path.replace(".js", "0.js")
    with pytest.raises(ConfigError):
        config_from_dict(compiled)
    assert not banner.VERSIONED_PATH_RE.fullmatch(compiled["edge"]["banner"])


def test_the_distribution_sends_every_path_to_the_endpoint() -> None:
    template = (ROOT / "template.yaml").read_text(encoding="utf-8")
    patterns = re.findall(r"PathPattern: (/consent\S*)", template)
    assert patterns, "the consent behaviours' path patterns"
    for path in [*CONSENT_PATHS.values(), STABLE_BANNER_PATH, DEV_CONFIG.banner_path]:
        assert any(fnmatchcase(path, pattern) for pattern in patterns), path


# --- CloudFront's header items: consent_edge.cloudfront ------------------------------------------

HEADER_ITEM = re.compile(r'\{\s*"key"\s*:[^{}]*"value"\s*:')


def test_only_the_cloudfront_adapter_writes_header_items() -> None:
    writers = [relative(path) for path in SOURCES if HEADER_ITEM.search(path.read_text(encoding="utf-8"))]
    assert writers == ["layers/consent_core/consent_edge/cloudfront.py"]


def test_the_header_helpers_write_cloudfront_items() -> None:
    headers: cloudfront.Headers = {}
    cloudfront.set_header(headers, "X-Consent-State", "valid")
    cloudfront.add_header(headers, "Cookie", "a=1")
    cloudfront.add_header(headers, "Cookie", "b=2")
    cloudfront.replace_set_cookies(headers, ["a=1; Expires=Thu, 01 Jan 2026 00:00:00 GMT", "b=2"])
    assert headers == {
        "x-consent-state": [{"key": "X-Consent-State", "value": "valid"}],
        "cookie": [{"key": "Cookie", "value": "a=1"}, {"key": "Cookie", "value": "b=2"}],
        "set-cookie": [
            {"key": "Set-Cookie", "value": "a=1; Expires=Thu, 01 Jan 2026 00:00:00 GMT"},
            {"key": "Set-Cookie", "value": "b=2"},
        ],
    }
    cloudfront.replace_set_cookies(headers, [])
    assert "set-cookie" not in headers
    assert cloudfront.header_items("Cookie", ["a=1"]) == headers["cookie"][:1]


# --- The compiled config's shape: edge_consent.schema.CompiledConfig ---------------------------------


def compiled_with(**changes: Any) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "policy" / "policy.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    return policy.compile_policy(policy.parse_policy(data), policy.load_keys(None))


def test_the_compiled_config_is_the_schemas_dump() -> None:
    compiled = compiled_with()
    assert CompiledConfig.model_validate(compiled).model_dump(mode="json") == compiled
    assert typing.get_args(CompiledConfig.model_fields["format"].annotation) == (CONFIG_FORMAT,)
    assert config_from_dict(compiled).policy_version == compiled["edge"]["policy_version"]


def test_a_compiled_cookie_location_says_only_what_differs_from_the_default() -> None:
    located = {
        "name": "cart",
        "category": "necessary",
        "provider": "the site",
        "purpose": {"fr": "x", "en": "x"},
        "lifetime": "session",
        "path": "/shop",
        "domain": ".planete-micro-entreprises.fr",
    }
    plain = {**located, "name": "basket"}
    del plain["path"], plain["domain"]
    base = yaml.safe_load((ROOT / "policy" / "policy.yaml").read_text(encoding="utf-8"))
    exact = compiled_with(cookies=[*base["cookies"], located, plain])["edge"]["cookies"]["exact"]
    assert exact["cart"] == {"category": "necessary", "path": "/shop", "domain": ".planete-micro-entreprises.fr"}
    assert exact["basket"] == {"category": "necessary"}
    assert "keys" not in policy.compile_policy(policy.parse_policy(base), None)["edge"]
