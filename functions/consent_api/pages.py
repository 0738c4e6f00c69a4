"""The consent endpoint's server-rendered pages: the preferences form and the cookie page.

Both work with JavaScript off and load nothing from elsewhere, so a visitor can always
refuse, accept or withdraw, whatever the browser blocks. They are Jinja templates
(`templates/`) with autoescaping on for every value, and no undefined name allowed;
links from the policy or the request go through `web_href` or `local_href`, because
escaping keeps a value inside its attribute but does not stop `javascript:` from running.

Jinja is imported with the first page a container renders: the banner, the state and
the choices never load it (decision 87 has its cost).
"""

from __future__ import annotations

import functools
import os
import re
from typing import TYPE_CHECKING, Any, NamedTuple

from consent_core.config import CONSENT_PATHS

from .site_policy import LANGUAGES, Site
from .texts import BROWSER_HELP, CNIL_URL, UI, duration_in_days_text, lifetime_text

if TYPE_CHECKING:
    import jinja2

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")

_EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
_FORBIDDEN_IN_HREF = re.compile(r"[\x00-\x20\x7f\\]")


class CookieRow(NamedTuple):
    name: str
    provider: str
    party: str
    purpose: str
    lifetime: str


def render_preferences(
    site: Site,
    lang: str,
    granted: frozenset[str] | None,
    state: str,
    submission_id: str,
    return_to: str,
    message: str | None = None,
) -> str:
    """GET /consent/preferences: the whole choice in one form that needs no script.

    `granted` ticks the boxes only for a `valid` state: any other state means no usable
    choice, so nothing but the necessary category is shown as granted. "Accept all" and
    "Reject all" share one class so that neither can be styled to stand out.
    """
    lang = _language(site, lang)
    choice = granted if state == "valid" and granted is not None else None
    optional = [c for c in site.categories if not c.required]
    return _render(
        "preferences.html",
        site,
        lang,
        title=UI[lang]["preferences_title"],
        state=state,
        choice=choice,
        accepted=[c.name[lang] for c in optional if choice is not None and c.id in choice],
        refused=[c.name[lang] for c in optional if choice is not None and c.id not in choice],
        submission_id=submission_id,
        return_to=return_to,
        message=message,
    )


def render_cookie_page(site: Site, lang: str) -> str:
    """GET /consent/cookies: the site's cookie information, generated from the policy.

    Built from the same catalogue the edge enforces, so the page cannot list a cookie the
    edge does not know, nor miss one it lets through.
    """
    lang = _language(site, lang)
    return _render(
        "cookies.html",
        site,
        lang,
        title=UI[lang]["cookies_page_title"],
        category_names={c.id: c.name[lang] for c in site.categories},
        consent_duration=duration_in_days_text(site.consent_cookie.lifetime_days, lang),
        browser_help=BROWSER_HELP[lang],
        cnil_url=CNIL_URL[lang],
    )


def cookie_rows(site: Site, lang: str) -> dict[str, list[CookieRow]]:
    """Each category's cookies, the consent cookie first among the necessary ones.

    The consent cookie is not in the catalogue but is one of the site's cookies: it is
    listed under the necessary category, where the exemption puts it.
    """
    ui = UI[lang]
    rows: dict[str, list[CookieRow]] = {category.id: [] for category in site.categories}
    for category in site.categories:
        if category.required:
            lifetime = duration_in_days_text(site.consent_cookie.lifetime_days, lang)
            consent_cookie = CookieRow(
                site.consent_cookie.name, site.site.name, ui["first_party"], ui["consent_cookie_purpose"], lifetime
            )
            rows[category.id].append(consent_cookie)
    for cookie in site.cookies:
        party = ui["third_party"] if cookie.party == "third" else ui["first_party"]
        row = CookieRow(cookie.name, cookie.provider, party, cookie.purpose[lang], lifetime_text(cookie.lifetime, lang))
        rows[cookie.category].append(row)
    return rows


def _render(template: str, site: Site, lang: str, **context: Any) -> str:
    return (
        _environment()
        .get_template(template)
        .render(site=site, lang=lang, ui=UI[lang], paths=CONSENT_PATHS, rows=cookie_rows(site, lang), **context)
    )


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["web_href"] = web_href
    environment.filters["local_href"] = functools.partial(web_href, relative_only=True)
    environment.tests["email"] = lambda value: bool(_EMAIL_RE.match(value))
    return environment


def _language(site: Site, lang: str) -> str:
    """`lang` if the pages speak it, else the site's default: a page is never left without words."""
    return lang if lang in LANGUAGES else site.site.default_language


def web_href(url: str | None, *, relative_only: bool = False) -> str | None:
    """`url` if it can only lead to a web page: no script scheme, no protocol-relative trick."""
    if not url or _FORBIDDEN_IN_HREF.search(url):
        return None
    if url.startswith("/"):
        return None if url.startswith("//") else url
    if relative_only:
        return None
    return url if url.lower().startswith(("https://", "http://")) else None
