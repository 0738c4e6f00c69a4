"""A response that sets a visitor's cookie never goes into CloudFront's shared cache."""

from __future__ import annotations

import pytest
from consent_core import caching
from consent_edge import cloudfront
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("origin", "sent"),
    [
        ("", "private"),
        ("public, max-age=600", "private, max-age=600"),
        ("max-age=600, s-maxage=3600, must-revalidate", "private, max-age=600, must-revalidate"),
        ("S-MaxAge=60", "private"),
        ('no-cache="Set-Cookie, Vary", public', 'private, no-cache="Set-Cookie, Vary"'),
        ("no-store", "no-store"),
        ("Private, max-age=60", "Private, max-age=60"),
    ],
)
def test_private_drops_what_shared_caches_read(origin: str, sent: str) -> None:
    assert caching.private(origin) == sent


directive = st.sampled_from(["public", "private", "no-store", "no-cache", "max-age=60", "s-maxage=600", "immutable"])


@given(st.lists(directive, max_size=5))
def test_a_private_value_is_never_cacheable_by_a_shared_cache(parts: list[str]) -> None:
    names = [name for name, _ in caching.directives(caching.private(", ".join(parts)))]
    assert "private" in names or "no-store" in names
    if "private" not in parts and "no-store" not in parts:
        assert not {"public", "s-maxage"} & set(names)


def headers(*set_cookies: str, cache_control: str | None = None) -> cloudfront.Headers:
    result: cloudfront.Headers = {}
    cloudfront.replace_set_cookies(result, list(set_cookies))
    if cache_control is not None:
        result["cache-control"] = [{"key": "Cache-Control", "value": cache_control}]
    return result


def test_a_response_setting_a_session_cookie_becomes_private() -> None:
    response = headers("sessionid=abc; Path=/; HttpOnly", cache_control="public, max-age=600")
    assert cloudfront.keep_from_shared_caches(response)
    assert cloudfront.header_values(response, "cache-control") == ["private, max-age=600"]


def test_several_cache_control_headers_are_read_as_one() -> None:
    response = headers("sessionid=abc", cache_control="public")
    response["cache-control"].append({"key": "Cache-Control", "value": "s-maxage=600, max-age=60"})
    cloudfront.keep_from_shared_caches(response)
    assert response["cache-control"] == [{"key": "Cache-Control", "value": "private, max-age=60"}]


@pytest.mark.parametrize(
    ("set_cookies", "cache_control"),
    [
        ((), "public, max-age=600"),
        # CloudFront caches the response without its Set-Cookie ("Cache content based on cookies").
        (("sessionid=abc",), 'no-cache="Set-Cookie", max-age=600'),
        (("sessionid=abc",), 'public, No-Cache="Vary, set-cookie", max-age=600'),
    ],
)
def test_without_a_visitor_cookie_in_the_cached_object_the_origin_decides(
    set_cookies: tuple[str, ...], cache_control: str
) -> None:
    response = headers(*set_cookies, cache_control=cache_control)
    assert not cloudfront.keep_from_shared_caches(response)
    assert cloudfront.header_values(response, "cache-control") == [cache_control]


def test_a_response_setting_the_consent_cookie_is_private_too() -> None:
    """Only the consent endpoint sets it, and caches nothing: one from anywhere else is never shared."""
    response = headers("__Host-consent=1.k1.x; Path=/; Secure", cache_control="public, max-age=600")
    assert cloudfront.keep_from_shared_caches(response)
    assert cloudfront.header_values(response, "cache-control") == ["private, max-age=600"]


def test_a_bare_no_cache_names_no_field() -> None:
    assert caching.no_cache_fields("no-cache, max-age=0") == set()
    response = headers("sessionid=abc", cache_control="no-cache")
    assert cloudfront.keep_from_shared_caches(response)
