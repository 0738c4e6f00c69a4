"""The plain values a request gives and a receipt records, made safe to keep."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import Literal

Action = Literal["accept_all", "reject_all", "custom", "withdraw"]
Event = Literal["given", "refused", "updated", "withdrawn"]
Collection = Literal["banner", "form", "api"]

MAX_PAGE_PATH = 100  # enough to tell pages apart; keeps every receipt within one write unit
# A same-site path: one leading slash, then no second slash or backslash, no scheme, no controls.
_SAFE_PATH = re.compile(r"/(?![/\\])[^\x00-\x20\x7f\\]*")


def safe_return_to(value: object) -> str:
    """`value` when it is a path on this site, else `/` (an open redirect is worse than a lost place)."""
    if not isinstance(value, str) or len(value) > 512 or not value.isascii() or not _SAFE_PATH.fullmatch(value):
        return "/"  # non-ASCII too: a Location header must be ASCII
    if "@" in value.split("?", 1)[0] or ":" in value.split("/", 2)[1]:
        return "/"
    return value


def truncate_ip(raw: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network, written so that it is never an address: `203.0.113/24`.

    IPv6 forms that carry an IPv4 address (mapped, 6to4, Teredo) are cut as that IPv4 address:
    their /48 would hold it whole.
    """
    if not raw:
        return None
    try:
        address = ipaddress.ip_address(raw.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            address = embedded
    if isinstance(address, ipaddress.IPv4Address):
        return ".".join(str(address).split(".")[:3]) + "/24"
    groups = address.exploded.split(":")[:3]
    return ":".join(group.lstrip("0") or "0" for group in groups) + "/48"


def viewer_country(raw: str | None) -> str | None:
    """`CloudFront-Viewer-Country` when it is a country code: nothing else is stored from it."""
    return raw if raw is not None and re.fullmatch(r"[A-Z]{2}", raw) else None


def receipt_time(now: float) -> str:
    """A receipt's time: UTC to the millisecond, `2026-11-26T14:12:03.123Z`."""
    moment = datetime.fromtimestamp(now, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def unix_time(text: str) -> float:
    """The Unix time of a receipt's time."""
    return datetime.fromisoformat(text).timestamp()
