"""The consent endpoint's server-rendered pages: the preferences form and the cookie page.

Both work with JavaScript off and load nothing from elsewhere, so a visitor can always
refuse, accept or withdraw, whatever the browser blocks. Every value from the policy or
the request is escaped where it is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from .texts import BROWSER_HELP, CNIL_URL, LANGUAGES, UI, duration_in_days_text, lifetime_text

NECESSARY = "necessary"
PREFERENCES_PATH = "/consent/preferences"
COOKIES_PATH = "/consent/cookies"
CONSENT_ACTION = "/consent"

_EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
_FORBIDDEN_IN_HREF = re.compile(r"[\x00-\x20\x7f\\]")

_STYLE = """
:root { color-scheme: light dark; --accent: #1d4ed8; }
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; padding: 1rem; }
main { max-width: 50rem; margin: 0 auto; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; } h3 { font-size: 1.05rem; }
.site { font-weight: 600; margin: 0; }
.status { border: 2px solid var(--accent); border-radius: .4rem; padding: .5rem .75rem; }
.actions { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0; }
.choice { font: inherit; font-weight: 600; min-width: 12rem; padding: .6rem 1.2rem; border-radius: .4rem;
  border: 2px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
.choice:focus-visible { outline: 3px solid currentColor; outline-offset: 2px; }
fieldset { border: 1px solid #8886; border-radius: .4rem; margin: 1rem 0; padding: .5rem 1rem; }
legend { font-weight: 600; padding: 0 .3rem; }
legend input { width: 1.1rem; height: 1.1rem; vertical-align: middle; }
.always { font-weight: 400; font-size: .9rem; margin-left: .5rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: .5rem 0 1rem; }
th, td { border: 1px solid #8886; padding: .3rem .5rem; text-align: left; vertical-align: top; }
code { overflow-wrap: anywhere; }
nav p { display: flex; flex-wrap: wrap; gap: 1.5rem; }
"""


def render_preferences(
    site: Mapping[str, Any],
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
    ui = UI[lang]
    choice = granted if state == "valid" and granted is not None else None
    categories = list(_categories(site))
    parts = [
        f"<h1>{_text(ui['preferences_title'])}</h1>",
        f'<p class="site">{_text(_site_info(site, "name"))}</p>',
    ]
    if message:
        parts.append(f'<p role="status" class="status">{_text(message)}</p>')
    parts.append(_current_choice(ui, categories, lang, state, choice))
    parts.append(f"<p>{_text(ui['preferences_intro'])}</p>")
    parts.append(f'<form method="post" action="{CONSENT_ACTION}">')
    parts.append(f'<input type="hidden" name="submission_id" value="{_attr(submission_id)}">')
    parts.append(f'<input type="hidden" name="return_to" value="{_attr(return_to)}">')
    parts.append(
        '<div class="actions">'
        + _button("accept_all", ui["accept_all"])
        + _button("reject_all", ui["reject_all"])
        + "</div>"
    )
    for category in categories:
        parts.append(_category_fieldset(site, category, lang, choice))
    buttons = _button("custom", ui["save_choices"])
    if state == "valid":
        buttons += _button("withdraw", ui["withdraw"])
    parts.append(f'<div class="actions">{buttons}</div>')
    parts.append("</form>")
    parts.append(_footer_links(site, ui, back_to=return_to, cookie_page=True))
    title = f"{ui['preferences_title']} – {_site_info(site, 'name')}"
    return _document(lang, title, "\n".join(parts))


def render_cookie_page(site: Mapping[str, Any], lang: str, max_months: int = 13) -> str:
    """GET /consent/cookies: the site's cookie information, generated from the policy.

    Built from the same catalogue the edge enforces, so the page cannot list a cookie the
    edge does not know, nor miss one it lets through.
    """
    lang = _language(site, lang)
    ui = UI[lang]
    categories = list(_categories(site))
    names = {str(c.get("id")): _localised(c.get("name"), lang) for c in categories}
    consent_days = _consent_days(site)
    parts = [
        f"<h1>{_text(ui['cookies_page_title'])}</h1>",
        f'<p class="site">{_text(_site_info(site, "name"))}</p>',
        _section(ui["what_title"], f"<p>{_text(ui['what_text'])}</p>"),
        _section(ui["purposes_title"], f"<p>{_text(ui['purposes_text'])}</p>" + _purpose_list(categories, lang)),
        _section(
            ui["consent_title"],
            f"<p>{_text(ui['consent_text'])}</p>"
            f"<p>{_format(ui['choice_duration_text'], duration=duration_in_days_text(consent_days, lang))}</p>"
            f'<p><a href="{PREFERENCES_PATH}">{_text(ui["preferences_title"])}</a></p>',
        ),
        _section(ui["list_title"], f"<p>{_text(ui['list_text'])}</p>" + _cookie_tables(site, categories, lang)),
        _section(ui["max_lifetime_title"], f"<p>{_format(ui['max_lifetime_text'], months=str(max_months))}</p>"),
        _section(ui["third_parties_title"], f"<p>{_text(ui['third_parties_text'])}</p>" + _third_parties(site)),
        _section(
            ui["social_title"],
            f"<p>{_format(ui['social_text'], category=names.get('social', ui['social_title']))}</p>",
        ),
        _section(
            ui["ads_title"],
            f"<p>{_format(ui['ads_text'], category=names.get('advertising', ui['ads_title']))}</p>",
        ),
        _section(ui["choices_title"], _choices(lang)),
        _section(ui["controller_title"], _controller(site, ui)),
        _section(
            ui["more_title"],
            f"<p>{_text(ui['more_text'])}</p>"
            f'<p><a href="{_attr(CNIL_URL[lang])}" hreflang="{lang}">{_text(ui["cnil_link"])}</a></p>',
        ),
        _footer_links(site, ui, back_to=None, cookie_page=False),
    ]
    title = f"{ui['cookies_page_title']} – {_site_info(site, 'name')}"
    return _document(lang, title, "\n".join(parts))


def _document(lang: str, title: str, body: str) -> str:
    """A complete HTML5 page around `body`, with its style inline: the endpoint serves one file."""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{_attr(lang)}">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex">\n'
        f"<title>{_text(title)}</title>\n"
        f"<style>{_STYLE}</style>\n"
        "</head>\n"
        "<body>\n"
        f"<main>\n{body}\n</main>\n"
        "</body>\n"
        "</html>\n"
    )


def _current_choice(
    ui: Mapping[str, str],
    categories: list[Mapping[str, Any]],
    lang: str,
    state: str,
    choice: frozenset[str] | None,
) -> str:
    """What the visitor chose last, so that changing it starts from what is in force."""
    heading = f"<h2>{_text(ui['current_choice'])}</h2>"
    if choice is None:
        lines = [f"<p>{_text(ui['no_choice_yet'])}</p>"]
        if state in ("expired", "outdated"):
            lines.insert(0, f"<p>{_text(ui['choice_' + state])}</p>")
        return f"<section>{heading}{''.join(lines)}</section>"
    optional = [c for c in categories if c.get("id") != NECESSARY]
    accepted = [_localised(c.get("name"), lang) for c in optional if c.get("id") in choice]
    refused = [_localised(c.get("name"), lang) for c in optional if c.get("id") not in choice]
    if not accepted:
        return f"<section>{heading}<p>{_text(ui['only_necessary'])}</p></section>"
    body = f"<p>{_text(ui['you_accept'])}</p>{_list(accepted)}"
    if refused:
        body += f"<p>{_text(ui['you_refuse'])}</p>{_list(refused)}"
    return f"<section>{heading}{body}</section>"


def _category_fieldset(
    site: Mapping[str, Any], category: Mapping[str, Any], lang: str, choice: frozenset[str] | None
) -> str:
    """One purpose: its switch, what it is for, and the cookies it covers."""
    ui = UI[lang]
    category_id = str(category.get("id", ""))
    name = _text(_localised(category.get("name"), lang))
    if category_id == NECESSARY:
        control = (
            f'<input type="checkbox" id="category-{_attr(category_id)}" checked disabled> {name}'
            f'<span class="always">({_text(ui["always_active"])})</span>'
        )
    else:
        checked = " checked" if choice is not None and category_id in choice else ""
        control = (
            f'<input type="checkbox" id="category-{_attr(category_id)}" name="categories" '
            f'value="{_attr(category_id)}"{checked}> {name}'
        )
    cookies = _cookie_rows(site, category_id, lang)
    return (
        '<fieldset class="category">'
        f'<legend><label for="category-{_attr(category_id)}">{control}</label></legend>'
        f"<p>{_text(_localised(category.get('purpose'), lang))}</p>"
        f"<details><summary>{_text(ui['cookies_used'])} ({len(cookies)})</summary>"
        f"{_table(ui, cookies, with_party=False)}</details>"
        "</fieldset>"
    )


def _cookie_tables(site: Mapping[str, Any], categories: list[Mapping[str, Any]], lang: str) -> str:
    """Every catalogued cookie, grouped under the purpose that decides whether it is set."""
    ui = UI[lang]
    parts = []
    for category in categories:
        category_id = str(category.get("id", ""))
        parts.append(f"<h3>{_text(_localised(category.get('name'), lang))}</h3>")
        parts.append(_table(ui, _cookie_rows(site, category_id, lang), with_party=True))
    return "".join(parts)


def _cookie_rows(site: Mapping[str, Any], category_id: str, lang: str) -> list[tuple[str, str, str, str, str]]:
    """(name, provider, party, purpose, lifetime) of a category's cookies, the consent cookie first.

    The consent cookie is not in the catalogue but is one of the site's cookies: it is
    listed under the necessary category, where the exemption puts it.
    """
    ui = UI[lang]
    rows: list[tuple[str, str, str, str, str]] = []
    if category_id == NECESSARY:
        consent_cookie = site.get("consent_cookie")
        name = consent_cookie.get("name") if isinstance(consent_cookie, Mapping) else None
        rows.append(
            (
                str(name or "__Host-consent"),
                _site_info(site, "name"),
                ui["first_party"],
                ui["consent_cookie_purpose"],
                duration_in_days_text(_consent_days(site), lang),
            )
        )
    for cookie in _mappings(site.get("cookies")):
        if cookie.get("category") != category_id:
            continue
        rows.append(
            (
                str(cookie.get("name", "")),
                str(cookie.get("provider", "")),
                ui["third_party"] if cookie.get("party") == "third" else ui["first_party"],
                _localised(cookie.get("purpose"), lang),
                lifetime_text(str(cookie.get("lifetime", "")), lang),
            )
        )
    return rows


def _table(ui: Mapping[str, str], rows: list[tuple[str, str, str, str, str]], *, with_party: bool) -> str:
    """A cookie table; the party column is left out of the compact one inside the form."""
    columns = ["col_name", "col_provider", "col_party", "col_purpose", "col_lifetime"]
    if not with_party:
        columns.remove("col_party")
    head = "".join(f'<th scope="col">{_text(ui[c])}</th>' for c in columns)
    body = []
    for name, provider, party, purpose, lifetime in rows:
        cells = [f"<code>{_text(name)}</code>", _text(provider)]
        if with_party:
            cells.append(_text(party))
        cells += [_text(purpose), _text(lifetime)]
        body.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _purpose_list(categories: list[Mapping[str, Any]], lang: str) -> str:
    items = "".join(
        f"<dt>{_text(_localised(c.get('name'), lang))}</dt><dd>{_text(_localised(c.get('purpose'), lang))}</dd>"
        for c in categories
    )
    return f"<dl>{items}</dl>"


def _third_parties(site: Mapping[str, Any]) -> str:
    """Each third party once, linked to its privacy policy: the list owed when asking consent."""
    seen: dict[str, str | None] = {}
    for cookie in _mappings(site.get("cookies")):
        if cookie.get("party") != "third":
            continue
        provider = str(cookie.get("provider", ""))
        policy = cookie.get("privacy_policy")
        if provider not in seen or seen[provider] is None:
            seen[provider] = str(policy) if policy else None
    items = []
    for provider, policy_url in seen.items():
        href = _safe_href(policy_url)
        label = _text(provider)
        items.append(f'<li><a href="{_attr(href)}">{label}</a></li>' if href else f"<li>{label}</li>")
    return f"<ul>{''.join(items)}</ul>"


def _choices(lang: str) -> str:
    """How to choose on the site and in each browser; Flash is named only to say it is gone."""
    ui = UI[lang]
    browsers = "".join(
        f'<li><a href="{_attr(url)}" hreflang="{lang}">{_text(browser)}</a></li>' for browser, url in BROWSER_HELP[lang]
    )
    return (
        f"<h3>{_text(ui['choices_site_title'])}</h3>"
        f"<p>{_text(ui['choices_site_text'])}</p>"
        f'<p><a href="{PREFERENCES_PATH}">{_text(ui["preferences_title"])}</a></p>'
        f"<h3>{_text(ui['choices_browser_title'])}</h3>"
        f"<p>{_text(ui['choices_browser_text'])}</p>"
        f"<ul>{browsers}</ul>"
        f"<p>{_text(ui['flash_text'])}</p>"
    )


def _controller(site: Mapping[str, Any], ui: Mapping[str, str]) -> str:
    contact = _site_info(site, "contact")
    if _EMAIL_RE.match(contact):
        contact_html = f'<a href="mailto:{_attr(contact)}">{_text(contact)}</a>'
    elif href := _safe_href(contact):
        contact_html = f'<a href="{_attr(href)}">{_text(contact)}</a>'
    else:
        contact_html = _text(contact)
    return f"<p>{_format(ui['controller_text'], controller=_site_info(site, 'controller'))}</p><p>{contact_html}</p>"


def _footer_links(site: Mapping[str, Any], ui: Mapping[str, str], *, back_to: str | None, cookie_page: bool) -> str:
    links = []
    if back_to is not None and (href := _safe_href(back_to, relative_only=True)):
        links.append(f'<a href="{_attr(href)}">{_text(ui["back_to_site"])}</a>')
    if cookie_page:
        links.append(f'<a href="{COOKIES_PATH}">{_text(ui["cookie_page_link"])}</a>')
    else:
        links.append(f'<a href="{PREFERENCES_PATH}">{_text(ui["preferences_title"])}</a>')
    if privacy := _safe_href(_site_info(site, "privacy_policy_url")):
        links.append(f'<a href="{_attr(privacy)}">{_text(ui["privacy_link"])}</a>')
    return f"<nav><p>{''.join(links)}</p></nav>"


def _section(title: str, body: str) -> str:
    return f"<section><h2>{_text(title)}</h2>{body}</section>"


def _button(action: str, label: str) -> str:
    """Every choice is the same kind of button: no option is easier to see than another."""
    return f'<button type="submit" class="choice" name="action" value="{_attr(action)}">{_text(label)}</button>'


def _list(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{_text(item)}</li>" for item in items) + "</ul>"


def _language(site: Mapping[str, Any], lang: str) -> str:
    """`lang` if the pages speak it, else the site's default: a page is never left without words."""
    if lang in LANGUAGES:
        return lang
    default = _site_info(site, "default_language")
    return default if default in LANGUAGES else LANGUAGES[0]


def _site_info(site: Mapping[str, Any], key: str) -> str:
    info = site.get("site")
    value = info.get(key) if isinstance(info, Mapping) else None
    return "" if value is None else str(value)


def _consent_days(site: Mapping[str, Any]) -> int:
    consent_cookie = site.get("consent_cookie")
    days = consent_cookie.get("lifetime_days") if isinstance(consent_cookie, Mapping) else None
    return days if isinstance(days, int) and not isinstance(days, bool) and days > 0 else 182


def _categories(site: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    return _mappings(site.get("categories"))


def _mappings(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _localised(value: object, lang: str) -> str:
    """A policy text in `lang`, falling back to another language rather than to nothing."""
    if isinstance(value, Mapping):
        for candidate in (lang, *LANGUAGES):
            text = value.get(candidate)
            if text:
                return str(text)
        return ""
    return "" if value is None else str(value)


def _safe_href(url: str | None, *, relative_only: bool = False) -> str | None:
    """`url` if it can only lead to a web page: no script scheme, no protocol-relative trick.

    Escaping keeps a value inside its attribute; it does not stop `javascript:` from running.
    """
    if not url or _FORBIDDEN_IN_HREF.search(url):
        return None
    if url.startswith("/"):
        return None if url.startswith("//") else url
    if relative_only:
        return None
    return url if url.lower().startswith(("https://", "http://")) else None


def _format(template: str, **values: str) -> str:
    """Fill a UI text's placeholders, escaping the text and each value separately."""
    return _text(template).format(**{key: _text(value) for key, value in values.items()})


def _text(value: str) -> str:
    return escape(value, quote=False)


def _attr(value: str) -> str:
    return escape(value, quote=True)
