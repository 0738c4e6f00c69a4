"""Cookie headers for the property tests, and what viewer-request forwards of one under a given grant."""

from __future__ import annotations

import string

from consent_core import consent
from consent_core.config import EdgeConfig, config_from_dict
from hypothesis import strategies as st

from tests.helpers.dev import NOW, load_dev_config_dict

CATALOGUE_NAMES = [
    "sessionid",
    "csrftoken",
    "lang",
    "display_prefs",
    "_ga",
    "_ga_Q8ZR2P4K7L",
    "_pk_id.1.a1b2",
    "_hjSession_12",
    "_gcl_au",
    "_fbp",
    "FPID",
    "ad_slot_freq",
    "__Host-consent",
    "tracker",
    "$Version",
]
NASTY = ['"', ",", " ", "\t", ";", "=", "\\", "\x00", "\x7f", "é", "\u2028", "$", "(", "[", ":"]
# What PHP and ASP.NET Core read as a catalogued name (see tests/helpers/origin_parsers.py).
LOOKALIKES = [
    ".fbp",
    "_gcl.au",
    "_fbp[id]",
    "_FBP",
    "fpid",
    "x@_fbp",
    " _fbp",
    "_fbp[",
    "_Ga_ABC",
    "_pk_id.1",
    "a[_ga]",
    "_ga_Q8ZR2P4K7L)_GCL_AU",  # a glob's match that ASP.NET Core reads as `_gcl_au`
    "_pk_id.1é_fbp",
    # PHP's `$_COOKIE['_pk_id_1_a1b2']`, where Matomo's tracker reads its `_pk_id.1.a1b2`
    "_pk_id_1_a1b2",
    ".pk.id.1.a1b2",
    "_pk.id.1.a1b2",
]


def _variants(swap: dict[str, str]) -> st.SearchStrategy[str]:
    """A catalogued name with some of its characters swapped as `swap` says."""
    return st.builds(
        lambda name, flips: "".join(swap.get(char, char) if flips >> i & 1 else char for i, char in enumerate(name)),
        st.sampled_from(CATALOGUE_NAMES),
        st.integers(0, 2**16 - 1),  # which characters to swap
    )


# What PHP reads alike (`_pk.id_1.a1b2`), and what ASP.NET Core does (`_pK_iD.1.A1b2`).
variants = _variants({".": "_", "_": "."}) | _variants({c: c.swapcase() for c in string.ascii_letters})
names = st.one_of(st.sampled_from(CATALOGUE_NAMES + LOOKALIKES), variants, st.text(max_size=12))
value_parts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(NASTY),
    st.sampled_from(CATALOGUE_NAMES).map(lambda n: f"{n}=1"),
    st.sampled_from(CATALOGUE_NAMES).map(lambda n: f'"; {n}=x"'),
)
values = st.lists(value_parts, max_size=6).map("".join)
separators = st.sampled_from(["; ", ";", " ; ", ", ", ";;", "; \t", ";\x00"])
pairs = st.tuples(names, st.sampled_from(["=", "", " = ", "=="]), values).map("".join)
grants = st.sets(st.sampled_from(["preferences", "analytics", "advertising", "social"]))


@st.composite
def cookie_headers(draw: st.DrawFn) -> str:
    items = draw(st.lists(pairs, max_size=20))
    return "".join(item + draw(separators) for item in items)


# The development policy, with cookies missing from its catalogue let in as `preferences`.
ALLOWS_UNKNOWN = config_from_dict(load_dev_config_dict())
ALLOWS_UNKNOWN.unknown_category = "preferences"


def read_with(header: str, granted: frozenset[str], config: EdgeConfig) -> consent.RequestCookies:
    """The request filtered as if a valid consent cookie granted `granted`."""
    decided = consent.Consent(consent.VALID, granted)
    original = consent._decide
    try:
        consent._decide = lambda *args, **kwargs: (decided, set())
        return consent.read_request_cookies(header, False, config, NOW)
    finally:
        consent._decide = original
