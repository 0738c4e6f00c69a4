"""The banner script as visitors get it: the policy's texts inside, minified, gzipped, named by its content.

`static/banner.js` is the readable source. What is served is that source minified
(rjsmin), with the policy's texts and categories in every language, the state cookie's
name and the re-consent version in place of its `BOOT` placeholder, so that a page
needs no request to start the banner. Its path, `/consent/banner.<sha256 prefix>.js`,
changes whenever a byte of it does: browsers and CloudFront may keep it for a year.

`edge-consent policy compile` renders it too, to put that path in the compiled config,
where viewer-request reads it to tell the origin (`x-consent-banner`). The compiler's
environment has what it needs: the standard library and rjsmin.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import struct
import zlib
from typing import Any, NamedTuple

import rjsmin  # type: ignore[import-untyped]  # no stubs; jsmin(str) -> str
from consent_core.config import BANNER_PATH_PREFIX, BANNER_VERSION_DIGITS, CONSENT_PATHS, STABLE_BANNER_PATH

from . import texts
from .site_policy import Site

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static", "banner.js")
STABLE_PATH = STABLE_BANNER_PATH  # for pages that cannot read x-consent-banner: kept 5 minutes
VERSIONED_PATH_RE = re.compile(re.escape(BANNER_PATH_PREFIX) + f"([0-9a-f]{{{BANNER_VERSION_DIGITS}}})\\.js")
_PLACEHOLDER = "/*BOOT*/ null"
_MARKER = "__EDGE_CONSENT_BOOT__"  # an identifier, which minifying keeps as it is

# The words the banner shows (both layers); the category names and purposes come with them.
TEXTS = (
    "banner_title",
    "banner_text",
    "purposes_label",
    "accept_all",
    "reject_all",
    "customise",
    "save_choices",
    "withdraw",
    "always_active",
    "preferences_title",
    "cookie_page_link",
    "privacy_link",
    "choice_saving",
    "choice_saved",
    "choice_withdrawn",
    "choice_failed",
)


class Banner(NamedTuple):
    script: bytes  # UTF-8 JavaScript, as served to a browser that does not accept gzip
    gzipped: bytes
    version: str  # the first BANNER_VERSION_DIGITS hex digits of the script's SHA-256

    @property
    def path(self) -> str:
        return f"{BANNER_PATH_PREFIX}{self.version}.js"


def categories(site: Site, lang: str) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "name": c.name[lang], "purpose": c.purpose[lang], "required": c.required} for c in site.categories
    ]


def links(site: Site) -> dict[str, str]:
    return {
        "preferences": CONSENT_PATHS["preferences"],
        "cookies": CONSENT_PATHS["cookies"],
        "privacy": site.site.privacy_policy_url,
    }


@functools.cache
def _minified_source() -> tuple[str, str]:
    """The source minified once per process, split where the boot data goes."""
    with open(SOURCE, encoding="utf-8") as handle:
        source = handle.read()
    if source.count(_PLACEHOLDER) != 1:
        raise ValueError(f"{SOURCE}: expected one {_PLACEHOLDER!r}")
    minified = rjsmin.jsmin(source.replace(_PLACEHOLDER, _MARKER))
    before, found, after = minified.partition(_MARKER)
    if not found or _MARKER in after:
        raise ValueError(f"{SOURCE}: the boot placeholder did not survive minifying")
    return before, after


def render(site: Site, state_cookie: str, reconsent_version: int) -> Banner:
    """The script for this policy: the same bytes, and so the same path, wherever it is rendered."""
    boot = {
        "state_cookie": state_cookie,
        "reconsent_version": reconsent_version,
        "default_language": site.site.default_language,
        "languages": {
            lang: {"texts": {key: texts.UI[lang][key] for key in TEXTS}, "categories": categories(site, lang)}
            for lang in texts.UI
        },
        "consent_mode": site.consent_mode,
        "links": links(site),
    }
    # JSON inside a script: nothing in it may close the script or end a line for JavaScript.
    data = json.dumps(boot, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    data = data.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    before, after = _minified_source()
    script = (before + data + after).encode("utf-8")
    return Banner(script, gzipped(script), hashlib.sha256(script).hexdigest()[:BANNER_VERSION_DIGITS])


def gzipped(data: bytes) -> bytes:
    """gzip (RFC 1952) with a fixed header: no time, OS unknown.

    `gzip.compress` writes the OS byte as 3 on Python 3.11 and 255 on 3.13: the same script
    would differ by the runtime that made it.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    stream = deflate.compress(data) + deflate.flush()
    return _GZIP_HEADER + stream + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


_GZIP_HEADER = bytes([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 2, 0xFF])  # deflate, no flags, no time, best, OS unknown
