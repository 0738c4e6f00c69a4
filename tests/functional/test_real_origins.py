"""What real origins read of what viewer-request forwards: PHP 8.2 (`php -S`, `$_COOKIE`), Express and Node's `cookie`.

The unit tests hold models of these parsers (tests/helpers/origin_parsers.py); here the
real ones read the same generated headers, through their own HTTP servers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from consent_core import cookies
from consent_core.config import NECESSARY, EdgeConfig
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.helpers.cookie_headers import ALLOWS_UNKNOWN, cookie_headers, grants, names, read_with, separators
from tests.helpers.dev import DEV_CONFIG
from tests.helpers.origin_parsers import php_cookie_keys, refused_keys
from tests.helpers.real_origins import RealOrigins, real_origins

MATOMO_LOOKALIKES = ["_pk_id_1_a1b2", ".pk.id.1.a1b2", "_pk.id.1.a1b2"]
# Fewer pairs, and mostly values the edge forwards, than the unit tests' headers: each
# example costs two HTTP requests, and a header the edge empties tests nothing here.
light_values = st.one_of(
    st.sampled_from(["1", "", "a b", '"q"', "a=b", "%5Fga", "é", "x, _ga=1", "1\t"]),
    st.text("ab1=._ %[]", max_size=6),
)
light_pairs = st.tuples(names, st.sampled_from(["=", "", "=="]), light_values).map("".join)
light_headers = st.lists(st.tuples(light_pairs, separators).map("".join), min_size=1, max_size=8).map("".join)
# What HTTP carries: CloudFront takes no CR or LF inside a header.
http_cookie_headers = (light_headers | cookie_headers()).map(lambda header: header.replace("\r", "").replace("\n", ""))


@pytest.fixture(scope="module")
def origins() -> Iterator[RealOrigins]:
    with real_origins() as running:
        yield running


@pytest.mark.parametrize("name", MATOMO_LOOKALIKES)
def test_php_reads_a_matomo_lookalike_as_matomo_reads_its_cookie(origins: RealOrigins, name: str) -> None:
    """Matomo's PHP tracker reads `_pk_id.1.a1b2` as `$_COOKIE['_pk_id_1_a1b2']`: so does PHP each lookalike."""
    assert origins.php_keys("_pk_id.1.a1b2=1") == {"_pk_id_1_a1b2"}
    assert origins.php_keys(f"{name}=1") == {"_pk_id_1_a1b2"}


@pytest.mark.parametrize("name", MATOMO_LOOKALIKES)
def test_a_matomo_lookalike_never_reaches_php_when_analytics_is_refused(origins: RealOrigins, name: str) -> None:
    # Given a policy that lets unknown cookies in as `preferences`, and a visitor who refused analytics
    granted = frozenset({NECESSARY, "preferences"})
    # When viewer-request filters a header holding a name PHP reads as Matomo's cookie
    forwarded = read_with(f"sessionid=1; {name}=x", granted, ALLOWS_UNKNOWN).header
    # Then PHP sees the session alone
    assert forwarded is not None
    assert origins.php_keys(forwarded) == {"sessionid"}


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(header="sessionid=1; _pk_id_1_a1b2=x", granted={"preferences"}, config=ALLOWS_UNKNOWN)
@given(header=http_cookie_headers, granted=grants, config=st.sampled_from([DEV_CONFIG, ALLOWS_UNKNOWN]))
def test_no_real_origin_reads_a_refused_name(
    origins: RealOrigins, header: str, granted: set[str], config: EdgeConfig
) -> None:
    """PHP's keys, and the names Express and `cookie` read, compared with the catalogue read their way."""
    allowed = frozenset(granted) | {NECESSARY}
    forwarded = read_with(header, allowed, config).header
    if forwarded is None:
        return
    php_keys = origins.php_keys(forwarded)
    if php_keys is not None:  # None: PHP refused the request, and read nothing
        assert not refused_keys(php_keys, "php", config, allowed), (header, forwarded, php_keys)
    node_names = origins.node_names(forwarded)
    for parser, read in (node_names or {}).items():
        assert not refused_keys(read, "plain", config, allowed), (parser, header, forwarded, read)
        # Node reads what the edge forwards as the edge splits it: the plain reading is Node's.
        assert read <= {name for name, _ in cookies.parse_cookie_header(forwarded)}, (parser, forwarded, read)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(http_cookie_headers)
def test_the_php_model_reads_headers_as_php_does(origins: RealOrigins, header: str) -> None:
    """The unit tests' model of `$_COOKIE`, against PHP itself on what visitors send."""
    keys = origins.php_keys(header)
    if keys is not None:
        assert php_cookie_keys(header) == keys
