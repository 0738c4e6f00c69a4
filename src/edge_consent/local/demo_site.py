"""The demo origin: the policy's site as a careless backend would serve it.

Every page sets cookies of every category by Set-Cookie, whatever the visitor chose
(HttpOnly ones, two-year lifetimes, a Domain attribute): keeping the refused ones out
of the browser is the edge's job. Pages show what the edge let through, so a tester
sees the enforcement, and carry the banner and the gated scripts a real site would.
"""

from __future__ import annotations

import html
import http.server
import secrets
import time
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from consent_core import cookies

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
            title, content = self.article()
            site_js = '<script src="/static/site.js" defer></script>'
            # Nothing of the visitor's, so the same page for everyone: only the banner's path.
            banner = {"x-consent-banner": headers.get("x-consent-banner", "")}
            return 200, cacheable, self.layout(title, content, {}, banner, scripts=site_js)
        if path.startswith("/partage/") and path.removeprefix("/partage/") in SHARE_NETWORKS:
            network = SHARE_NETWORKS[path.removeprefix("/partage/")]
            page = "<!doctype html><meta charset=utf-8><body style='margin:0;font:14px sans-serif'>"
            page += f"<button type=button>Partager sur {html.escape(network)}</button>"
            return 200, [("Content-Type", "text/html; charset=utf-8")], page.encode()
        set_cookies = self.site_cookies(received)
        pages = {
            "/": self.home,
            "/inscription": self.registration,
            "/affichage": self.display,
            "/actualites": self.news,
            "/confidentialite": self.privacy,
        }
        render = pages.get(path)
        if render is None:
            missing = self.layout("Page introuvable", "<p>Cette page n'existe pas.</p>", received, headers)
            return 404, _html_headers(set_cookies), missing
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
        else:
            message = ""
        title, content = render(received, message)
        return 200, _html_headers(set_cookies), self.layout(title, content, received, headers)

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

    def home(self, received: dict[str, str], message: str) -> tuple[str, str]:
        frames = "".join(
            f'<iframe title="Bouton {html.escape(name)}" data-consent-category="social" '
            f'data-consent-src="{self.third_party_origin}/partage/{key}"></iframe>'
            for key, name in SHARE_NETWORKS.items()
        )
        content = f"""
<p>Le portail des créateurs et des gérants de micro-entreprises : démarches, comptabilité, actualités.</p>
<div id="ad-slot" class="slot" aria-label="Espace publicitaire">Espace publicitaire (s'affiche avec votre accord).</div>
<script type="text/plain" data-consent-category="advertising" src="/static/annonces.js"></script>
<h2>Partager</h2>
<p id="share">{frames}</p>
<p>Les boutons de partage ne se chargent qu'avec votre accord pour les réseaux sociaux.</p>"""
        return "Accueil", content

    def registration(self, received: dict[str, str], message: str) -> tuple[str, str]:
        draft = parse_qs(unquote(received.get("registration_draft", "")))
        value = {key: html.escape(draft.get(key, [""])[0], quote=True) for key in ("entreprise", "email", "activite")}
        notice = f'<p role="status">{html.escape(message)}</p>' if message else ""
        content = f"""{notice}
<form method="post" action="/inscription">
<label for="entreprise">Nom de l'entreprise</label>
<input id="entreprise" name="entreprise" value="{value["entreprise"]}">
<label for="email">Adresse électronique</label><input id="email" name="email" type="email" value="{value["email"]}">
<label for="activite">Activité</label><input id="activite" name="activite" value="{value["activite"]}">
<p><button type="submit">Enregistrer le brouillon</button></p>
</form>
<p>Avec votre accord pour les préférences, ce que vous saisissez est retenu sept jours.</p>"""
        return "Inscription", content

    def display(self, received: dict[str, str], message: str) -> tuple[str, str]:
        notice = f'<p role="status">{html.escape(message)}</p>' if message else ""
        content = f"""{notice}
<form method="post" action="/affichage">
<label for="theme">Thème</label>
<select id="theme" name="theme"><option value="light">Clair</option><option value="dark">Sombre</option></select>
<label for="taille">Taille du texte</label>
<select id="taille" name="taille"><option value="normal">Normale</option><option value="large">Grande</option></select>
<p><button type="submit">Appliquer</button></p>
</form>
<p>Votre choix n'est retenu qu'avec votre accord pour les préférences.</p>"""
        return "Affichage", content

    def news(self, received: dict[str, str], message: str) -> tuple[str, str]:
        content = """
<p id="analytics-status">Mesure d'audience : inactive (sans votre accord).</p>
<script type="text/plain" data-consent-category="analytics" src="/static/mesure.js"></script>
<article><h2>Plafond de chiffre d'affaires : ce qui change</h2>
<p>Les seuils du régime micro-entrepreneur sont revalorisés tous les trois ans.</p></article>"""
        return "Actualités", content

    def article(self) -> tuple[str, str]:
        pictures = "".join(
            f'<img src="/static/images/{number}.svg" width="160" height="90" alt="Illustration {number}">'
            for number in range(1, ARTICLE_IMAGES + 1)
        )
        content = f"""
<p>Les nouveaux plafonds de chiffre d'affaires s'appliquent au 1er janvier : vente de marchandises,
prestations de services, professions libérales.</p>
<p class="pictures">{pictures}</p>"""
        return "Plafonds 2027", content

    def privacy(self, received: dict[str, str], message: str) -> tuple[str, str]:
        site = self.site["site"]
        content = f"""
<p>Responsable du traitement : {html.escape(site["controller"])}. Contact : {html.escape(site["contact"])}.</p>
<p>La liste des cookies et de leurs finalités est sur la page <a href="/consent/cookies">Cookies</a>.</p>"""
        return "Confidentialité", content

    def layout(
        self, title: str, content: str, received: dict[str, str], headers: dict[str, str], scripts: str = ""
    ) -> bytes:
        name = html.escape(self.site["site"]["name"])
        prefs = received.get("display_prefs", "")
        classes = {"dark": "theme:dark" in prefs, "large": "size:large" in prefs}
        body_class = " ".join(name for name, chosen in classes.items() if chosen)
        state = html.escape(headers.get("x-consent-state", "(absent)"))
        categories = html.escape(headers.get("x-consent-categories", "(absent)"))
        seen = html.escape(", ".join(sorted(received)) or "(aucun)")
        # The content-versioned script the edge names (kept a year by browsers), else the stable path.
        banner = headers.get("x-consent-banner", "")
        banner = html.escape(banner if banner.startswith("/consent/banner.") else "/consent/banner.js")
        page = f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(title)} - {name}</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/site.css"><script src="{banner}" defer></script>{scripts}</head>
<body class="{body_class}">
<header><strong>{name}</strong>
<nav><a href="/">Accueil</a><a href="/inscription">Inscription</a><a href="/affichage">Affichage</a>
<a href="/actualites">Actualités</a><a href="{ARTICLE_PATH}">Plafonds 2027</a></nav></header>
<main><h1>{html.escape(title)}</h1>{content}</main>
<footer>
<p><button type="button" data-consent-open>Gérer mes cookies</button>
<a href="/consent/cookies">Cookies</a> <a href="/consent/preferences">Préférences</a>
<a href="/confidentialite">Confidentialité</a></p>
<p class="edge" id="edge-view">Décision de l'edge : <span id="consent-state">{state}</span>
[<span id="consent-categories">{categories}</span>]<br>
Cookies reçus par le serveur : <span id="received-cookies">{seen}</span></p>
</footer></body></html>"""
        return page.encode("utf-8")


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
