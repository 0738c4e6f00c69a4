"""What visitors are told, as the consent endpoint reads it: the compiled policy's `site` section.

The policy compiler validates the policy with the pydantic models of `edge_consent.schema` and writes
their dump, every field and default included. The endpoint reads that dump into these
frozen dataclasses with the standard library alone: a cold page, banner or `GET /consent`
never imports pydantic, which costs more than the rest of the handler's import
(docs/benchmarks.md). Nothing is checked again here; a section the compiler did not write
(a missing or unknown field) raises, and the handler answers 500. The tests hold this
reading to the models' field by field.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from consent_core.config import NECESSARY

LANGUAGES: tuple[str, ...] = ("fr", "en")  # `schema.Language`; the first is the fallback
# `session`, or a whole number of units from 1 (see `schema.Cookie.lifetime`). Read whole
# (`fullmatch`): `$` would let a trailing newline through.
LIFETIME_RE = re.compile(r"session|([1-9][0-9]*) (minutes|hours|days|months)")

Texts = Mapping[str, str]  # a text in every language of LANGUAGES


@dataclass(frozen=True)
class SiteInfo:
    name: str
    controller: str
    contact: str
    privacy_policy_url: str
    default_language: str
    domain: str | None


@dataclass(frozen=True)
class ConsentCookie:
    name: str
    lifetime_days: int


@dataclass(frozen=True)
class Category:
    id: str
    name: Texts
    purpose: Texts

    @property
    def required(self) -> bool:
        return self.id == NECESSARY


@dataclass(frozen=True)
class Cookie:
    name: str
    category: str
    provider: str
    party: str  # "first" or "third"
    privacy_policy: str | None
    purpose: Texts
    lifetime: str
    path: str
    domain: str | None


@dataclass(frozen=True)
class Site:
    """The site, its purposes, its cookies, and how long things last."""

    site: SiteInfo
    consent_cookie: ConsentCookie
    max_cookie_lifetime_months: int
    categories: tuple[Category, ...]
    cookies: tuple[Cookie, ...]
    consent_mode: Mapping[str, list[str]]  # Google Consent Mode v2: a signal is granted when all its categories are

    @staticmethod
    @functools.cache
    def of(compiled: Any) -> Site:
        """The `site` section of a loaded config (an `EdgeConfig`), read once per container."""
        return read_site(compiled.site)

    def third_parties(self) -> dict[str, str | None]:
        """Each third-party provider once, with its privacy policy (the first one given)."""
        providers: dict[str, str | None] = {}
        for cookie in self.cookies:
            if cookie.party == "third" and not providers.get(cookie.provider):
                providers[cookie.provider] = cookie.privacy_policy
        return providers


def read_site(section: Mapping[str, Any]) -> Site:
    """The compiled `site` section (`schema.Site.section()`), as the endpoint reads it."""
    return Site(
        site=SiteInfo(**section["site"]),
        consent_cookie=ConsentCookie(**section["consent_cookie"]),
        max_cookie_lifetime_months=section["max_cookie_lifetime_months"],
        categories=tuple(Category(**category) for category in section["categories"]),
        cookies=tuple(Cookie(**cookie) for cookie in section["cookies"]),
        consent_mode=section["consent_mode"],
    )
