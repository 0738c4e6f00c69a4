"""The consent pages: complete, escaped, truthful, and as easy to refuse as to accept."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from consent_api import banner, pages
from consent_api.site_policy import LANGUAGES, read_site
from consent_api.texts import UI, choose_language, lifetime_text
from hypothesis import given
from hypothesis import strategies as st

from edge_consent.schema import Site

CONFIG_PATH = Path(__file__).resolve().parents[2] / "policy" / "config.dev.json"
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
REQUIRED_UI_KEYS = {"dialog_label", *banner.TEXTS}  # the pages' and the banner's
NO_CHOICE_STATES = ["absent", "invalid", "expired", "outdated", "error"]


class Page(HTMLParser):
    """Collects what the tests look at, and fails on unbalanced tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text_parts: list[str] = []
        self.script_count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self.script_count += 1
        if tag not in VOID_TAGS:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    assert page.errors == []
    assert page.stack == [], f"unclosed: {page.stack}"
    return page


@pytest.fixture(scope="module")
def site() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CONFIG_PATH.read_text(encoding="utf-8"))["site"]
    return data


def render_preferences(site: dict[str, Any], *args: Any) -> str:
    return pages.render_preferences(read_site(Site.model_validate(site).section()), *args)


def render_cookie_page(site: dict[str, Any], lang: str) -> str:
    return pages.render_cookie_page(read_site(Site.model_validate(site).section()), lang)


def preferences(site: dict[str, Any], lang: str, granted: frozenset[str] | None = None, state: str = "absent") -> str:
    return render_preferences(site, lang, granted, state, "sub-123", "/articles/1")


def buttons(page: Page) -> dict[str, dict[str, str | None]]:
    return {str(b.get("value")): b for b in page.find("button", name="action")}


# --- both pages ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_pages_are_complete_documents_without_scripts_or_external_resources(site: dict[str, Any], lang: str) -> None:
    for html in (preferences(site, lang), render_cookie_page(site, lang)):
        # Given a rendered page, when it is parsed
        page = parse(html)
        # Then it is a whole HTML5 document in the visitor's language, standing on its own
        assert html.startswith("<!DOCTYPE html>")
        assert page.find("html", lang=lang)
        assert page.find("meta", charset="utf-8")
        assert page.find("meta", name="viewport")
        assert page.find("style") and page.find("title")
        assert page.script_count == 0
        assert not page.find("link") and not page.find("img") and not page.find("iframe")
        assert len(html.encode("utf-8")) < 200_000


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_category_and_cookie_of_the_policy_is_on_both_pages(site: dict[str, Any], lang: str) -> None:
    for html in (preferences(site, lang), render_cookie_page(site, lang)):
        text = parse(html).text
        for category in site["categories"]:
            assert category["name"][lang] in text
            assert " ".join(category["purpose"][lang].split()) in text
        for cookie in site["cookies"]:
            assert cookie["name"] in text
        assert site["consent_cookie"]["name"] in text


# --- preferences --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_preferences_form_posts_every_action_to_the_consent_endpoint(site: dict[str, Any], lang: str) -> None:
    valid = parse(preferences(site, lang, frozenset({"necessary", "analytics"}), "valid"))
    absent = parse(preferences(site, lang))
    for page in (valid, absent):
        # Then there is one form, with the hidden fields the route needs
        forms = page.find("form")
        assert forms == [{"method": "post", "action": "/consent"}]
        assert page.find("input", type="hidden", name="submission_id", value="sub-123")
        assert page.find("input", type="hidden", name="return_to", value="/articles/1")
        assert all(b.get("type") == "submit" for b in page.find("button"))
    assert set(buttons(valid)) == {"accept_all", "reject_all", "custom", "withdraw"}
    assert set(buttons(absent)) == {"accept_all", "reject_all", "custom"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_accept_all_and_reject_all_look_the_same(site: dict[str, Any], lang: str) -> None:
    found = buttons(parse(preferences(site, lang)))
    accept, reject = found["accept_all"], found["reject_all"]
    assert accept.get("class") and accept.get("class") == reject.get("class")
    assert {k: v for k, v in accept.items() if k != "value"} == {k: v for k, v in reject.items() if k != "value"}
    assert "style" not in accept


@pytest.mark.parametrize("lang", LANGUAGES)
def test_checkboxes_reflect_the_granted_categories(site: dict[str, Any], lang: str) -> None:
    granted = frozenset({"necessary", "analytics", "social"})
    page = parse(preferences(site, lang, granted, "valid"))
    boxes = {b.get("value"): b for b in page.find("input", type="checkbox", name="categories")}
    optional = {c["id"] for c in site["categories"]} - {"necessary"}
    assert set(boxes) == optional
    for category_id, box in boxes.items():
        assert ("checked" in box) == (category_id in granted)
    # The necessary category is shown as always on, and never submitted
    necessary = [b for b in page.find("input", type="checkbox") if b.get("id") == "category-necessary"]
    assert len(necessary) == 1 and "checked" in necessary[0] and "disabled" in necessary[0]
    assert "name" not in necessary[0]
    assert UI[lang]["always_active"] in page.text


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("state", NO_CHOICE_STATES)
def test_without_a_valid_choice_nothing_is_ticked_and_nothing_can_be_withdrawn(
    site: dict[str, Any], lang: str, state: str
) -> None:
    page = parse(preferences(site, lang, frozenset({"necessary", "analytics"}), state))
    assert not [b for b in page.find("input", type="checkbox", name="categories") if "checked" in b]
    assert "withdraw" not in buttons(page)
    assert UI[lang]["no_choice_yet"] in page.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_current_choice_names_what_was_accepted(site: dict[str, Any], lang: str) -> None:
    text = parse(preferences(site, lang, frozenset({"necessary", "advertising"}), "valid")).text
    assert UI[lang]["you_accept"] in text and UI[lang]["you_refuse"] in text
    refused_all = parse(preferences(site, lang, frozenset({"necessary"}), "valid")).text
    assert UI[lang]["only_necessary"] in refused_all


@pytest.mark.parametrize("lang", LANGUAGES)
def test_message_is_announced_and_links_are_there(site: dict[str, Any], lang: str) -> None:
    html = render_preferences(site, lang, frozenset({"necessary"}), "valid", "s", "/", UI[lang]["choice_saved"])
    page = parse(html)
    status = [a for t, a in page.tags if a.get("role") == "status"]
    assert len(status) == 1
    assert UI[lang]["choice_saved"] in page.text
    assert page.find("a", href="/consent/cookies")
    assert page.find("a", href=site["site"]["privacy_policy_url"])
    assert not [a for t, a in parse(preferences(site, lang)).tags if a.get("role") == "status"]


def test_hostile_values_are_escaped(site: dict[str, Any]) -> None:
    hostile = json.loads(json.dumps(site))
    hostile["site"]["name"] = "<script>alert(1)</script>"
    hostile["site"]["privacy_policy_url"] = "javascript:alert(1)"
    hostile["categories"][1]["name"]["fr"] = "<img src=x onerror=alert(1)>"
    hostile["cookies"][0]["provider"] = '"><script>alert(2)</script>'
    html = render_preferences(hostile, "fr", None, "absent", '"><script>x</script>', '"><script>alert(3)</script>')
    cookie_html = render_cookie_page(hostile, "fr")
    for page_html in (html, cookie_html):
        page = parse(page_html)
        assert "<script" not in page_html
        assert page.script_count == 0 and not page.find("img")
        assert "javascript:" not in page_html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = parse(html)
    assert page.find("input", name="return_to", value='"><script>alert(3)</script>')
    # A return_to that is not a local path is kept for the route, but never becomes a link
    assert not page.find("a", href='"><script>alert(3)</script>')


def test_a_cookie_name_that_is_not_a_token_never_reaches_a_page(site: dict[str, Any]) -> None:
    hostile = json.loads(json.dumps(site))
    hostile["cookies"][0]["name"] = '"><script>alert(2)</script>'
    with pytest.raises(ValueError, match=r"cookies\.0\.name"):
        Site.model_validate(hostile)


def test_back_link_only_for_a_local_path(site: dict[str, Any]) -> None:
    local = parse(render_preferences(site, "en", None, "absent", "s", "/articles/1?x=1"))
    assert local.find("a", href="/articles/1?x=1")
    for target in ("//evil.example", "https://evil.example/", "/\\evil.example", "/a\r\nSet-Cookie:x"):
        page = parse(render_preferences(site, "en", None, "absent", "s", target))
        assert not page.find("a", href=target)


def test_unknown_language_falls_back_to_the_site_default(site: dict[str, Any]) -> None:
    page = parse(render_preferences(site, "de", None, "absent", "s", "/"))
    assert page.find("html", lang=site["site"]["default_language"])


# --- cookie page --------------------------------------------------------------------------------------------------

NOT_CONSENT = {
    "fr": "continuer à naviguer sur le site ne vaut pas consentement",
    "en": "continuing to browse the site is not consent",
}
THIRTEEN_MONTHS = {"fr": "plus de 13 mois", "en": "more than 13 months"}
SIX_MONTHS = {"fr": "est conservé 6 mois (182 jours)", "en": "is kept for 6 months (182 days)"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_cookie_page_tells_the_rules(site: dict[str, Any], lang: str) -> None:
    page = parse(render_cookie_page(site, lang))
    assert NOT_CONSENT[lang] in page.text
    assert THIRTEEN_MONTHS[lang] in page.text
    assert SIX_MONTHS[lang] in page.text
    assert page.find("a", href="/consent/preferences")
    assert site["site"]["controller"] in page.text
    assert page.find("a", href="mailto:" + site["site"]["contact"])


def test_cookie_page_uses_the_given_maximum(site: dict[str, Any]) -> None:
    assert "plus de 6 mois" in parse(render_cookie_page({**site, "max_cookie_lifetime_months": 6}, "fr")).text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_cookie_page_links_the_cnil_the_browsers_and_the_third_parties(site: dict[str, Any], lang: str) -> None:
    page = parse(render_cookie_page(site, lang))
    hrefs = {a.get("href") for a in page.find("a")}
    cnil = {
        "fr": "https://www.cnil.fr/fr/cookies-et-autres-traceurs",
        "en": "https://www.cnil.fr/en/cookies-and-other-tracking-devices",
    }
    assert cnil[lang] in hrefs
    for browser in ("Chrome", "Firefox", "Safari", "Edge"):
        assert browser in page.text
    assert "Internet Explorer" not in page.text
    for cookie in site["cookies"]:
        if cookie["party"] == "third":
            assert cookie["provider"] in page.text
            assert cookie["privacy_policy"] in hrefs


@pytest.mark.parametrize("lang", LANGUAGES)
def test_cookie_page_tables_say_party_and_lifetime(site: dict[str, Any], lang: str) -> None:
    text = parse(render_cookie_page(site, lang)).text
    assert UI[lang]["third_party"] in text and UI[lang]["first_party"] in text
    assert lifetime_text("30 minutes", lang) in text and lifetime_text("13 months", lang) in text


# --- texts --------------------------------------------------------------------------------------------------------


def test_ui_speaks_both_languages_with_the_same_keys() -> None:
    assert set(UI) == set(LANGUAGES)
    assert set(UI["fr"]) == set(UI["en"])
    assert set(UI["fr"]) >= REQUIRED_UI_KEYS
    for lang in LANGUAGES:
        for key, value in UI[lang].items():
            assert value.strip(), key
            assert "<" not in value and ">" not in value, key
            assert re.findall(r"\{\w+\}", value) == re.findall(r"\{\w+\}", UI["en"][key]), key
    assert UI["fr"]["reject_all"] == "Tout refuser" and UI["en"]["reject_all"] == "Reject all"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-FR", "fr"),
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ("en;q=0.9, fr;q=0.8", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("de-DE, en;q=0.5, fr;q=0.4", "en"),
        ("de-DE", "fr"),
        ("*", "fr"),
        ("de, *;q=0.5", "fr"),
        ("*, fr;q=0", "en"),
        ("fr;q=0, en;q=0", "fr"),
        ("fr, en", "fr"),
        ("en, fr", "en"),
        ("EN-us", "en"),
        ("en;q=abc, fr;q=0.1", "fr"),
        ("en;q=2, fr;q=0.5", "fr"),
        (";;;,,,==", "fr"),
        ("garbage \x00 \u00e9", "fr"),
        ("", "fr"),
        (None, "fr"),
    ],
)
def test_choose_language(header: str | None, expected: str) -> None:
    assert choose_language(header, "fr") == expected


def test_choose_language_default_decides_when_the_header_does_not() -> None:
    assert choose_language(None, "en") == "en"
    assert choose_language("*", "en") == "en"
    assert choose_language("de", "xx") == "fr"


@given(st.one_of(st.none(), st.text(max_size=300)), st.sampled_from(["fr", "en", "de", ""]))
def test_choose_language_never_raises(header: str | None, default: str) -> None:
    assert choose_language(header, default) in LANGUAGES


@pytest.mark.parametrize(
    ("lifetime", "fr", "en"),
    [
        ("13 months", "13 mois", "13 months"),
        ("1 months", "1 mois", "1 month"),
        ("session", "session", "session"),
        ("30 minutes", "30 minutes", "30 minutes"),
        ("1 minutes", "1 minute", "1 minute"),
        ("7 days", "7 jours", "7 days"),
        ("1 days", "1 jour", "1 day"),
        ("24 hours", "24 heures", "24 hours"),
        ("1 hours", "1 heure", "1 hour"),
        ("forever", "forever", "forever"),
    ],
)
def test_lifetime_text(lifetime: str, fr: str, en: str) -> None:
    assert lifetime_text(lifetime, "fr") == fr
    assert lifetime_text(lifetime, "en") == en
