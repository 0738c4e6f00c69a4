"""The demo origin: the policy's site as a careless backend would serve it.

Every page sets cookies of every category by Set-Cookie, whatever the visitor chose
(HttpOnly ones, two-year lifetimes, a Domain attribute): keeping the refused ones out
of the browser is the edge's job. Pages show what the edge let through, so a tester
sees the enforcement, and carry the banner and the gated scripts a real site would.
"""

from __future__ import annotations

import functools
import http.server
import secrets
import time
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

import jinja2
from consent_core import cookies
from consent_core.config import BANNER_PATH_PREFIX, STABLE_BANNER_PATH

from .loopback import LoopbackServer

TWO_YEARS = 2 * 365 * 86400
ARTICLE_PATH = "/articles/plafonds-2027"
SHARE_NETWORKS = {"facebook": "Facebook", "x": "X (Twitter)", "linkedin": "LinkedIn"}

CSS = """
body{font:17px/1.55 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
body.large{font-size:20px} body.dark{background:#161616;color:#eee} body.dark a{color:#9cf}
header,main,footer{max-width:52rem;margin:0 auto;padding:1rem 1.25rem}
header{border-bottom:2px solid #1b1b1b} nav a{margin-right:1rem}
.slot{border:1px dashed #888;padding:1rem;margin:1rem 0;min-height:3rem}
.edge{font:14px/1.4 ui-monospace,monospace;background:#eef;padding:.75rem;color:#111;overflow-wrap:anywhere}
iframe{border:1px solid #ccc;width:14rem;height:3.2rem;margin-right:.5rem}
footer{margin-top:2rem;border-top:1px solid #bbb;padding-bottom:12rem}
label{display:block;margin:.5rem 0 .2rem} input,select{font:inherit}
"""

# Gated scripts, as a measurement and an ad vendor would ship them (set cookies from JavaScript).
ANALYTICS_JS = """(function () {
  var now = Math.floor(Date.now() / 1000);
  document.cookie = "_pk_id.1.a1b2=" + Math.random().toString(16).slice(2) + "." + now +
    "; Path=/; Max-Age=" + 395 * 86400 + "; SameSite=Lax";
  document.cookie = "_pk_ses.1.a1b2=1; Path=/; Max-Age=1800; SameSite=Lax";
  document.documentElement.setAttribute("data-analytics", "active");
  var status = document.getElementById("analytics-status");
  if (status) status.textContent = "Mesure d'audience : active (script autorisé)";
})();
"""
ADS_JS = """(function () {
  document.cookie = "_gcl_au=1.1." + Math.floor(Math.random() * 1e9) + "." + Math.floor(Date.now() / 1000) +
    "; Domain=" + location.hostname + "; Path=/; Max-Age=" + 90 * 86400 + "; SameSite=Lax";
  document.documentElement.setAttribute("data-ads", "active");
  var slot = document.getElementById("ad-slot");
  if (slot) slot.textContent = "Annonce : -20 % sur la comptabilité en ligne pour les micro-entreprises.";
})();
"""


SITE_JS = """document.documentElement.setAttribute("data-site-js", "loaded");
"""
# The article's pictures: small drawings, as a CMS would serve its images.
ARTICLE_IMAGES = 8


def _picture(number: int) -> str:
    hue = number * 45
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="90" viewBox="0 0 160 90">'
        f'<rect width="160" height="90" fill="hsl({hue},60%,85%)"/>'
        f'<circle cx="{20 + number * 15}" cy="45" r="25" fill="hsl({hue},60%,45%)"/></svg>'
    )


class DemoSite:
    """The pages and the cookies; `cookie_domain` is the host the visitor's browser sees."""

    def __init__(self, site: dict[str, Any], cookie_domain: str, third_party_origin: str) -> None:
        self.site = site
        self.cookie_domain = cookie_domain
        self.third_party_origin = third_party_origin

    # What every page of the site sets: the backend does not look at consent.
    def site_cookies(self, received: dict[str, str]) -> list[str]:
        domain = self.cookie_domain
        expires = formatdate(time.time() + TWO_YEARS, usegmt=True)
        lines = [
            f"sessionid={received.get('sessionid') or _token()}; Path=/; HttpOnly; SameSite=Lax",
            f"csrftoken={_token()}; Max-Age={TWO_YEARS}; Path=/; SameSite=Lax",
            f"AWSALB={_token()}; Max-Age=604800; Path=/",
            "lang=fr; Max-Age=31536000; Path=/; SameSite=Lax",
            f"_ga=GA1.1.{_number()}.{int(time.time())}; Domain={domain}; Path=/; Max-Age={TWO_YEARS}; SameSite=Lax",
            f"_ga_Q8ZR2P4K7L=GS2.1.s{int(time.time())}$o1$g0; Domain={domain}; Path=/; Max-Age={TWO_YEARS}",
            f"FPID=FPID2.2.{_token()}; Domain={domain}; Path=/; Expires={expires}; HttpOnly; SameSite=Lax",
            "ad_slot_freq=home-top:1; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax",
            f"tracking_pixel_id=u-{_number()}; Path=/; Max-Age=31536000",
        ]
        return lines

    def respond(
        self, method: str, path: str, query: str, received: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """(status, headers, body) for one request."""
        if path == "/static/site.css":
            return _asset(CSS, "text/css")
        if path == "/static/mesure.js":
            return _asset(ANALYTICS_JS, "application/javascript")
        if path == "/static/annonces.js":
            return _asset(ADS_JS, "application/javascript")
        if path == "/static/site.js":
            return _asset(SITE_JS, "application/javascript")
        if path.startswith("/static/images/") and path.removesuffix(".svg").removeprefix("/static/images/").isdigit():
            return _asset(_picture(int(path.removesuffix(".svg").removeprefix("/static/images/"))), "image/svg+xml")
        if path == ARTICLE_PATH:
            # A CMS page cache: the same page for everyone, no cookie, kept 5 minutes by shared caches.
            cacheable = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "public, max-age=300")]
            # Nothing of the visitor's, so the same page for everyone: only the banner's path.
            banner = {"x-consent-banner": headers.get("x-consent-banner", "")}
            page = self.page("article.html", "Plafonds 2027", {}, banner, site_script=True, pictures=ARTICLE_IMAGES)
            return 200, cacheable, page
        if path.startswith("/partage/") and path.removeprefix("/partage/") in SHARE_NETWORKS:
            network = SHARE_NETWORKS[path.removeprefix("/partage/")]
            page = _templates().get_template("share.html").render(network=network).encode()
            return 200, [("Content-Type", "text/html; charset=utf-8")], page
        set_cookies = self.site_cookies(received)
        known = PAGES.get(path)
        if known is None:
            missing = self.page("missing.html", "Page introuvable", received, headers)
            return 404, _html_headers(set_cookies), missing
        message = ""
        if method == "POST":
            try:
                form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
            except ValueError:
                return 400, [("Content-Type", "text/plain; charset=utf-8")], b"too many form fields\n"
            extra, message = self.submit(path, form)
            set_cookies += extra
            received = {
                **received,
                **dict(cookies.parse_cookie_header("; ".join(line.split(";")[0] for line in extra))),
            }
        template, title = known
        html = self.page(template, title, received, headers, message=message, **self.page_values(path, received))
        return 200, _html_headers(set_cookies), html

    def submit(self, path: str, form: dict[str, list[str]]) -> tuple[list[str], str]:
        if path == "/inscription":
            fields = {key: form.get(key, [""])[0][:100] for key in ("entreprise", "email", "activite")}
            draft = quote(urlencode(fields), safe="")
            line = f"registration_draft={draft}; Path=/inscription; Max-Age=604800; SameSite=Lax"
            return [line], "Brouillon enregistré : vous le retrouverez en revenant sur cette page."
        if path == "/affichage":
            theme = "dark" if form.get("theme") == ["dark"] else "light"
            size = "large" if form.get("taille") == ["large"] else "normal"
            line = f"display_prefs=theme:{theme}|size:{size}; Path=/; Max-Age=15552000; SameSite=Lax"
            return [line], "Préférence d'affichage enregistrée."
        return [], ""

    # --- Pages ------------------------------------------------------------------------

    def page_values(self, path: str, received: dict[str, str]) -> dict[str, Any]:
        """What a page shows besides the layout: the remembered form, the share buttons, the controller."""
        if path == "/inscription":
            draft = parse_qs(unquote(received.get("registration_draft", "")))
            return {"draft": {key: draft.get(key, [""])[0] for key in ("entreprise", "email", "activite")}}
        if path == "/":
            return {"share_networks": SHARE_NETWORKS, "third_party_origin": self.third_party_origin}
        if path == "/confidentialite":
            return {"controller": self.site["site"]["controller"], "contact": self.site["site"]["contact"]}
        return {}

    def page(
        self, template: str, title: str, received: dict[str, str], headers: dict[str, str], **values: Any
    ) -> bytes:
        """A page in the site's layout, with what the edge decided and the cookies the server received."""
        prefs = received.get("display_prefs", "")
        classes = {"dark": "theme:dark" in prefs, "large": "size:large" in prefs}
        # The content-versioned script the edge names (kept a year by browsers), else the stable path.
        banner = headers.get("x-consent-banner", "")
        layout = {
            "title": title,
            "site_name": self.site["site"]["name"],
            "article_path": ARTICLE_PATH,
            "body_class": " ".join(name for name, chosen in classes.items() if chosen),
            "banner": banner if banner.startswith(BANNER_PATH_PREFIX) else STABLE_BANNER_PATH,
            "state": headers.get("x-consent-state", "(absent)"),
            "categories": headers.get("x-consent-categories", "(absent)"),
            "seen": ", ".join(sorted(received)) or "(aucun)",
            "site_script": False,
            "message": "",
        }
        return _templates().get_template(template).render(**{**layout, **values}).encode("utf-8")


# path -> (template, title)
PAGES = {
    "/": ("home.html", "Accueil"),
    "/inscription": ("registration.html", "Inscription"),
    "/affichage": ("display.html", "Affichage"),
    "/actualites": ("news.html", "Actualités"),
    "/confidentialite": ("privacy.html", "Confidentialité"),
}


@functools.cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("edge_consent.local", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def _asset(text: str, content_type: str) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [("Content-Type", f"{content_type}; charset=utf-8"), ("Cache-Control", "public, max-age=86400")]
    return 200, headers, text.encode()


def _html_headers(set_cookies: list[str]) -> list[tuple[str, str]]:
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "private, no-cache")]
    return headers + [("Set-Cookie", line) for line in set_cookies]


def _token() -> str:
    return secrets.token_urlsafe(18)


def _number() -> int:
    return secrets.randbelow(10**9)


class DemoSiteServer(LoopbackServer):
    def __init__(self, address: tuple[str, int], site: dict[str, Any], cookie_domain: str) -> None:
        super().__init__(address, _DemoHandler)
        _host, port = self.server_address[:2]
        # Share buttons come from another site, as a network's buttons would.
        self.demo = DemoSite(site, cookie_domain, third_party_origin=f"http://127.0.0.1:{port}")


class _DemoHandler(http.server.BaseHTTPRequestHandler):
    server: DemoSiteServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave in two writes: no 40 ms wait for an ACK

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit():
            self.send_error(400, "bad Content-Length")
            return
        body = self.rfile.read(int(length)) if int(length) else b""
        received = dict(cookies.parse_cookie_header("; ".join(self.headers.get_all("Cookie") or [])))
        lowered = {key.lower(): value for key, value in self.headers.items()}
        status, headers, content = self.server.demo.respond(self.command, path, query, received, lowered, body)
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    do_GET = do_POST = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # the edge's console says it all
        pass
