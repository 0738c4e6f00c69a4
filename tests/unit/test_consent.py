"""Consent decisions from the consent cookie, and what they mean for each cookie."""

from __future__ import annotations

import pytest
from consent_core import consent, cookies, dates
from consent_core.config import EdgeConfig, static_cookie_paths

from tests.helpers.dev import NOW, Issue

NAME = "__Host-consent"


def decide(config: EdgeConfig, *values: str, gpc: bool = False) -> consent.Consent:
    return consent.decide(values, gpc, config, NOW)


def test_no_cookie_is_absent_and_only_necessary(config: EdgeConfig) -> None:
    assert decide(config) == consent.Consent("absent", frozenset({"necessary"}))


def test_valid_cookie_grants_its_categories_and_necessary(config: EdgeConfig, issue: Issue) -> None:
    decision = decide(config, issue({"analytics"}))
    assert decision.state == "valid"
    assert decision.granted == {"necessary", "analytics"}
    assert decision.header_value == "analytics,necessary"
    assert decision.consent_id is not None


@pytest.mark.parametrize(
    ("kwargs", "state"),
    [
        ({"issued_at": NOW - 182 * 86400}, "expired"),
        ({"issued_at": NOW - 182 * 86400 + 60}, "valid"),
        ({"issued_at": NOW + 299}, "valid"),
        ({"issued_at": NOW + 301}, "invalid"),
        ({"policy_version": 1}, "outdated"),
        ({"policy_version": 2}, "valid"),
        ({"policy_version": 4}, "valid"),  # a newer policy reaching this replica first
    ],
)
def test_time_and_policy_version(config: EdgeConfig, issue: Issue, kwargs: dict[str, int], state: str) -> None:
    decision = decide(config, issue({"analytics"}, **kwargs))
    assert decision.state == state
    assert decision.granted == ({"necessary", "analytics"} if state == "valid" else {"necessary"})


def test_garbage_is_invalid(config: EdgeConfig) -> None:
    assert decide(config, "granted").state == "invalid"


def test_several_cookies_only_narrow(config: EdgeConfig, issue: Issue, all_categories: frozenset[str]) -> None:
    wide, narrow = issue(all_categories), issue({"analytics", "social"})
    assert decide(config, wide, narrow).granted == {"necessary", "analytics", "social"}
    assert decide(config, narrow, wide).granted == {"necessary", "analytics", "social"}


def test_invalid_cookies_beside_a_valid_one_do_not_count(config: EdgeConfig, issue: Issue) -> None:
    tampered = issue({"analytics"}).replace(".analytics.", ".advertising-analytics.")
    decision = decide(config, tampered, issue({"analytics"}), "junk")
    assert decision.state == "valid" and decision.granted == {"necessary", "analytics"}


def test_most_telling_failure_is_reported(config: EdgeConfig, issue: Issue) -> None:
    assert decide(config, "junk", issue({"analytics"}, policy_version=1)).state == "outdated"
    assert decide(config, issue(issued_at=NOW - 200 * 86400), "junk").state == "expired"


def test_gpc_denies_advertising_unless_given_with_gpc_on(
    config: EdgeConfig, issue: Issue, all_categories: frozenset[str]
) -> None:
    assert "advertising" not in decide(config, issue(all_categories), gpc=True).granted
    assert "analytics" in decide(config, issue(all_categories), gpc=True).granted
    assert "advertising" in decide(config, issue(all_categories, gpc=True), gpc=True).granted
    assert "advertising" in decide(config, issue(all_categories), gpc=False).granted


def test_categories_unknown_to_the_policy_are_ignored(config: EdgeConfig, issue: Issue) -> None:
    assert decide(config, issue({"analytics", "retired_purpose"})).granted == {"necessary", "analytics"}


# --- Request cookies ----------------------------------------------------------------------------

HEADER = "sessionid=s1; _ga=GA1.1.1.1; _ga_ABC=GS2; _fbp=fb.1; display_prefs=dark; mystery=1; lang=fr"


def test_request_cookies_keep_necessary_granted_and_the_valid_consent_cookie(config: EdgeConfig, issue: Issue) -> None:
    value = issue({"analytics"})
    result = consent.read_request_cookies(f"{NAME}={value}; {HEADER}", False, config, NOW)
    assert result.header == f"{NAME}={value}; sessionid=s1; _ga=GA1.1.1.1; _ga_ABC=GS2; lang=fr"
    assert result.stripped == ("_fbp", "display_prefs")
    assert result.unknown == ("mystery",)


def test_invalid_consent_cookie_is_not_forwarded(config: EdgeConfig) -> None:
    result = consent.read_request_cookies(f"{NAME}=1.forged; {HEADER}", False, config, NOW)
    assert result.consent.state == "invalid"
    assert result.header == "sessionid=s1; lang=fr"


def test_unknown_cookies_follow_the_policy(config: EdgeConfig) -> None:
    config.unknown_category = "necessary"
    config._cache.clear()
    assert "mystery=1" in (consent.read_request_cookies(HEADER, False, config, NOW).header or "")


def test_nothing_left_means_no_cookie_header(config: EdgeConfig) -> None:
    assert consent.read_request_cookies("_ga=1; _fbp=2", False, config, NOW).header is None


# --- Set-Cookie --------------------------------------------------------------------------------

LINES = [
    "sessionid=s1; Path=/; HttpOnly",
    f"{NAME}=abc; Path=/; Secure; Max-Age=15724800",
    "_ga=GA1; Max-Age=63072000; Domain=.planete-micro-entreprises.fr",
    "_fbp=; Max-Age=0",
    "FPID=x; Expires=Sun, 26 Nov 2028 14:12:00 GMT; HttpOnly",
    "mystery=1",
    "=nameless",
]


def names(lines: list[str]) -> list[str]:
    return [cookies.set_cookie_name(line) for line in lines]


def test_set_cookie_filtered_by_consent(config: EdgeConfig) -> None:
    result = consent.filter_set_cookies(LINES, frozenset({"necessary", "analytics"}), config, NOW)
    assert names(result.kept) == ["sessionid", "_ga", "_fbp"]
    assert result.removed == (NAME, "FPID", "mystery", "")
    assert result.capped == ("_ga",)
    assert result.unknown == ("mystery",)


def test_set_cookie_consent_independent_pass(config: EdgeConfig) -> None:
    result = consent.filter_set_cookies(LINES, None, config, NOW)
    assert names(result.kept) == ["sessionid", "_ga", "_fbp", "FPID", "mystery"]
    assert result.capped == ("_ga", "FPID")


@pytest.mark.parametrize("granted", [None, frozenset({"necessary"})])
def test_only_the_edge_sets_the_consent_cookies(config: EdgeConfig, granted: frozenset[str] | None) -> None:
    """An origin echoing the consent cookie (or deleting it) on a cached page would hand it to every visitor."""
    lines = [f"{NAME}=echoed; Max-Age=600; Path=/", f"{NAME}-state=3.analytics.1; Path=/", f"{NAME}=; Max-Age=0"]
    result = consent.filter_set_cookies(lines, granted, config, NOW)
    assert result.kept == []
    assert result.removed == (NAME, f"{NAME}-state", NAME)


DELETED = "=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
SITE = "Domain=.planete-micro-entreprises.fr"


def test_refusal_deletes_held_cookies_of_refused_categories_where_they_were_set(config: EdgeConfig) -> None:
    lines = consent.refused_deletions(
        ["sessionid", "_ga", "registration_draft", "mystery", NAME, "_ga"],
        frozenset({"necessary"}),
        config,
    )
    assert lines == [
        f"_ga{DELETED}; Path=/; {SITE}",
        f"registration_draft{DELETED}; Path=/inscription",
        f"_ga{DELETED}; Path=/",  # its host-only twin
        f"registration_draft{DELETED}; Path=/",
    ]


def test_refusal_deletes_at_every_path_and_in_both_domain_scopes(config: EdgeConfig) -> None:
    """A browser keeps a cookie by name, domain, host-only flag and path: each needs its own deletion."""
    lines = consent.refused_deletions(
        ["_pk_id.1.a1b2", "_ga"],
        frozenset({"necessary"}),
        config,
        uri="/actualites/2026/edge?page=2",
        host="www.planete-micro-entreprises.fr",
    )
    pk = {line for line in lines if line.startswith("_pk_id")}
    assert pk == {
        f"_pk_id.1.a1b2{DELETED}; Path={path}"
        for path in (
            "/",
            "/actualites",
            "/actualites/",
            "/actualites/2026",
            "/actualites/2026/",
            "/actualites/2026/edge",
        )
    }
    ga = {line for line in lines if line.startswith("_ga=")}
    assert len(ga) == 12 and f"_ga{DELETED}; Path=/actualites; {SITE}" in ga and f"_ga{DELETED}; Path=/actualites" in ga
    assert lines[0] == f"_ga{DELETED}; Path=/; {SITE}"  # exact names first, in their catalogued scope


def test_a_domain_the_host_cannot_set_is_deleted_host_only(config: EdgeConfig) -> None:
    lines = consent.refused_deletions(["IDE"], frozenset({"necessary"}), config, "/", host="example.org")
    assert lines == [f"IDE{DELETED}; Path=/"]


@pytest.mark.parametrize(
    ("uri", "paths"),
    [
        ("/", ["/"]),
        ("/a", ["/", "/a"]),
        ("/a/", ["/", "/a", "/a/"]),
        ("/a/b?x=/c/d", ["/", "/a", "/a/", "/a/b"]),
        ("", ["/"]),
        ("*", ["/"]),
    ],
)
def test_cookie_paths_are_those_a_browser_sends_a_cookie_to(uri: str, paths: list[str]) -> None:
    assert consent.cookie_paths(uri) == paths


def test_a_flood_of_planted_cookies_gets_bounded_deletions(config: EdgeConfig) -> None:
    """400 `_ga_*` names planted from a sibling subdomain: the exact names go first, and the total stays bounded."""
    planted = [f"_ga_{index:04d}" for index in range(400)]
    lines = consent.refused_deletions([*planted, "_gcl_au"], frozenset({"necessary"}), config, "/a/b/c", "example.fr")
    assert len(lines) <= consent.DELETION_LINES
    assert sum(len(line) for line in lines) <= consent.DELETION_BYTES
    assert lines[0].startswith("_gcl_au=")


def test_remembered_signatures_still_expire_and_stay_with_their_keys(
    config: EdgeConfig, config_dict: dict[str, object], issue: Issue
) -> None:
    from consent_core.config import config_from_dict

    value = issue({"analytics"}, issued_at=NOW - 3600)
    assert decide(config, value).state == "valid"
    assert value in config.verified_tokens
    # The same value a lifetime later: the remembered signature does not skip the clock.
    assert consent.decide([value], False, config, NOW + 182 * 86400).state == "expired"
    # Another config (rotated keys) remembers nothing and refuses the value.
    rotated = config_from_dict(config_dict)
    rotated.keys = {"other": b"k" * 32}
    assert consent.decide([value], False, rotated, NOW).state == "invalid"


def test_forgeries_are_never_remembered(config: EdgeConfig, issue: Issue) -> None:
    forged = issue({"analytics"}).replace(".analytics.", ".advertising.")
    for _ in range(3):
        assert decide(config, forged).state == "invalid"
    assert forged not in config.verified_tokens


@pytest.mark.parametrize(
    "line",
    [
        # Chromium keeps the last Max-Age/Expires, valid or not: these are not deletions there.
        "_ga=GA1.2.tracker; Max-Age=0; Max-Age=x; Expires=Wed, 01 Jan 2099 00:00:00 GMT; Path=/",
        "_fbp=fb.1.tracker; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=soon",
        "_gcl_au=1.1.tracker; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=+31536000; Domain=.example.fr",
    ],
)
def test_a_refused_cookie_never_passes_dressed_as_a_deletion(config: EdgeConfig, line: str) -> None:
    (kept,) = consent.filter_set_cookies([line], frozenset({"necessary"}), config, NOW).kept
    name = cookies.set_cookie_name(line)
    assert kept.startswith(f"{name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    assert "tracker" not in kept and "2099" not in kept and "31536000" not in kept
    if "Domain=.example.fr" in line:
        assert kept.endswith("; Domain=.example.fr")


@pytest.mark.parametrize(
    "line",
    [
        "_ga=x; Max-Age=+63072000",
        "_ga=x; Max-Age=63072000abc",
        "_ga=x; Max-Age=" + "9" * 400,
        "_ga=x; Max-Age=" + "9" * 5000,
        "_ga=x; Expires=Sat, 01 Jan 12345 00:00:00 GMT",
        "_ga=x; Expires=01/01/2040 00:00:00",
    ],
)
def test_no_lifetime_escapes_the_cap_and_nothing_raises(config: EdgeConfig, line: str) -> None:
    for granted in (None, frozenset({"necessary", "analytics"})):
        (kept,) = consent.filter_set_cookies([line], granted, config, NOW).kept
        cap = dates.add_calendar_months(NOW, 13)
        for _, attr, value in cookies._attributes(kept):
            if attr == "max-age":
                assert int(value) <= cap - NOW
            if attr == "expires":
                assert (dates.parse_cookie_date(value) or 0) <= cap
    assert consent.filter_set_cookies([line], frozenset({"necessary"}), config, NOW).removed == ("_ga",)


@pytest.mark.parametrize(
    ("host", "domain", "matches"),
    [
        ("www.planete-micro-entreprises.fr", ".planete-micro-entreprises.fr", True),
        ("planete-micro-entreprises.fr", "planete-micro-entreprises.fr", True),
        ("localhost:8080", "localhost", True),  # a Host header with its port
        ("WWW.Example.FR.", "example.fr", True),
        ("notexample.fr", "example.fr", False),
        ("www.planete-micro-entreprises.fr", ".doubleclick.net", False),
    ],
)
def test_a_host_sets_a_domain_it_belongs_to(host: str, domain: str, matches: bool) -> None:
    assert consent.domain_matches(host, domain) is matches


def test_a_crafted_deep_uri_costs_a_bounded_number_of_paths(
    config: EdgeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An 8 KB path of 4,000 segments: viewer-response has 128 MB and must not build every prefix."""
    uri = "/" + "a/" * 4000
    paths = consent.cookie_paths(uri)
    assert len(paths) <= 34 and paths[:3] == ["/", "/a", "/a/"]
    built: list[str] = []
    deletion_line = cookies.deletion_line

    def counted(name: str, path: str | None, domain: str | None) -> str:
        built.append(deletion_line(name, path, domain))
        return built[-1]

    monkeypatch.setattr(cookies, "deletion_line", counted)
    planted = [f"_ga_{number:04d}" for number in range(1000)]
    lines = consent.refused_deletions(planted, frozenset({"necessary"}), config, uri)
    assert len(lines) == consent.DELETION_LINES
    assert len(built) < 2 * consent.DELETION_LINES  # lines are made until the budget is full, not for every scope


@pytest.mark.parametrize("uri", ["/a;Domain=evil.example/b", "/a b/c", "/a\x00/b"])
def test_a_path_no_set_cookie_can_carry_gives_only_the_root(uri: str) -> None:
    assert consent.cookie_paths(uri) == ["/"]


@pytest.mark.parametrize(
    ("patterns", "paths"),
    [
        (("/static/*", "/assets/*"), ("/static", "/static/", "/assets", "/assets/")),
        (("static/*", "images/*.jpg"), ("/static", "/static/", "/images", "/images/")),  # CloudFront adds the `/`
        (("*.css", "/*.js", ""), ()),
    ],
)
def test_static_patterns_give_the_paths_of_their_directories(patterns: tuple[str, ...], paths: tuple[str, ...]) -> None:
    assert static_cookie_paths(patterns) == paths
