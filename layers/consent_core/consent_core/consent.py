"""Consent decisions: what the visitor granted, and what that means for each cookie."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from . import cookies, token
from .config import DROP_UNKNOWN, KEEP, KEEP_UNKNOWN, NECESSARY, STRIP, EdgeConfig

TYPE_CHECKING = False  # `typing` costs a cold start 3 to 4 ms: mypy alone reads it
if TYPE_CHECKING:
    from typing import NamedTuple
else:
    from .records import NamedTuple

VALID, ABSENT, INVALID, EXPIRED, OUTDATED, ERROR = "valid", "absent", "invalid", "expired", "outdated", "error"
# When no consent cookie is valid, the state reported is the most telling one seen.
_FAILURE_RANK = {INVALID: 0, EXPIRED: 1, OUTDATED: 2}
ONLY_NECESSARY = frozenset({NECESSARY})


class Consent(NamedTuple):
    state: str
    granted: frozenset[str]
    consent_id: str | None = None

    @property
    def header_value(self) -> str:
        """The granted categories, sorted and comma-separated (a handful of grants: computed once each)."""
        value = _HEADER_VALUES.get(self.granted)
        if value is None:
            value = _HEADER_VALUES[self.granted] = ",".join(sorted(self.granted))
        return value


_HEADER_VALUES: dict[frozenset[str], str] = {}
_VERIFIED_LIMIT = 4096


def verified_token(value: str, config: EdgeConfig) -> token.ConsentToken | None:
    """`token.verify`, remembered per container for well-signed values.

    A page view brings the same cookie on every request for the page and its assets;
    the signature is checked the first time. Only the signature is remembered: time
    and policy are checked on every request. The cache lives with the keys it was
    checked against, and starts over when full.
    """
    cache = config.verified_tokens
    parsed = cache.get(value)
    if parsed is None:
        parsed = token.verify(value, config.keys)
        if parsed is not None:
            if len(cache) >= _VERIFIED_LIMIT:
                cache.clear()
            cache[value] = parsed
    return parsed


def check_token(value: str, config: EdgeConfig, now: float) -> tuple[str, token.ConsentToken | None]:
    """The state of one consent cookie value, and its content when valid."""
    parsed = verified_token(value, config)
    if parsed is None or parsed.issued_at > now + token.FUTURE_SKEW_SECONDS:
        return INVALID, None
    if parsed.issued_at + config.consent_max_age <= now:
        return EXPIRED, None
    if parsed.policy_version < config.reconsent_version:
        return OUTDATED, None
    return VALID, parsed


def granted_by(parsed: token.ConsentToken, gpc: bool, config: EdgeConfig) -> frozenset[str]:
    granted = (parsed.categories & config.category_set) | ONLY_NECESSARY
    if gpc and not parsed.gpc:
        granted -= config.gpc_denies - ONLY_NECESSARY
    return granted


def decide(values: Iterable[str], gpc: bool, config: EdgeConfig, now: float) -> Consent:
    """Consent from every consent cookie sent: only valid ones count, and they can only narrow each other.

    A browser sends a host-only and a Domain cookie of the same name side by side;
    intersecting means a cookie planted from a sibling subdomain never widens consent.
    """
    return _decide(values, gpc, config, now)[0]


def _decide(values: Iterable[str], gpc: bool, config: EdgeConfig, now: float) -> tuple[Consent, set[str]]:
    """The decision, and the values that were valid (the ones viewer-request forwards)."""
    granted: frozenset[str] | None = None
    consent_id = None
    failure = None
    valid_values = set()
    for value in values:
        state, parsed = check_token(value, config, now)
        if parsed is None:
            if failure is None or _FAILURE_RANK[state] > _FAILURE_RANK[failure]:
                failure = state
            continue
        valid_values.add(value)
        these = granted_by(parsed, gpc, config)
        granted = these if granted is None else granted & these
        consent_id = consent_id or parsed.consent_id
    if granted is not None:
        return Consent(VALID, granted, consent_id), valid_values
    return Consent(failure or ABSENT, ONLY_NECESSARY), valid_values


class Visitor:
    """What a request's headers say of its visitor.

    A plain class: a record would cost viewer-request's cold start, which never makes one.
    """

    __slots__ = ("consent", "consent_values", "gpc", "pairs")

    def __init__(
        self, pairs: list[tuple[str, str]], gpc: bool, consent_values: tuple[str, ...], consent: Consent
    ) -> None:
        self.pairs = pairs  # every cookie, as browsers send them
        self.gpc = gpc  # Global Privacy Control (`Sec-GPC: 1`)
        self.consent_values = consent_values  # the consent cookie's values, as sent
        self.consent = consent  # what they decide

    @property
    def cookie_names(self) -> list[str]:
        return [name for name, _ in self.pairs]

    def valid_token(self, config: EdgeConfig, now: float) -> token.ConsentToken | None:
        """The first consent cookie that is valid now, read."""
        for value in self.consent_values:
            state, parsed = check_token(value, config, now)
            if state == VALID:
                return parsed
        return None


def read_cookie_header(header: str, gpc: bool, config: EdgeConfig, now: float) -> Visitor:
    """The visitor's cookies and consent, from a Cookie header and the Global Privacy Control signal.

    For every reader but viewer-request, whose hot path reads the header its own way
    (`read_request_cookies`).
    """
    pairs = cookies.parse_cookie_header(header)
    values = tuple(value for name, value in pairs if name == config.consent_cookie_name)
    return Visitor(pairs, gpc, values, decide(values, gpc, config, now))


def state_cookie_value(values: Iterable[str], gpc: bool, config: EdgeConfig, now: float) -> str | None:
    """The consent state cookie for these consent cookies; None when none is valid.

    `<policy version>.<granted categories, -joined>.<expiry, Unix seconds>`: what the
    banner needs to gate scripts and Consent Mode in the visitor's own browser without
    asking the server. Scripts can read it, so the edge never trusts it: the signed
    HttpOnly consent cookie alone decides what reaches the origin.
    """
    tokens = [parsed for parsed in (check_token(v, config, now)[1] for v in values) if parsed is not None]
    if not tokens:
        return None
    granted = frozenset.intersection(*(granted_by(parsed, gpc, config) for parsed in tokens)) - ONLY_NECESSARY
    version = min(parsed.policy_version for parsed in tokens)
    expires_at = min(parsed.issued_at for parsed in tokens) + config.consent_max_age
    return f"{version}.{'-'.join(sorted(granted))}.{expires_at}"


def state_cookie_line(config: EdgeConfig, value: str | None, now: float) -> str:
    """The Set-Cookie of the consent state cookie (its deletion for None), living as long as its consent."""
    name = config.state_cookie_name
    if value is None:
        return cookies.deletion_line(name, "/", None)
    expires_at = int(value.rsplit(".", 1)[1])
    return f"{name}={value}; Max-Age={max(0, expires_at - int(now))}; Path=/; Secure; SameSite=Lax"


class RequestCookies(NamedTuple):
    """What viewer-request decided about the Cookie header."""

    consent: Consent
    header: str | None  # the Cookie header to forward; None to send none
    stripped: tuple[str, ...]  # catalogued names of refused categories, for deletion downstream
    unknown: tuple[str, ...]  # names missing from the catalogue


def consent_values(header: str, name: str) -> list[str]:
    """The value of every pair named `name`, read as `cookies.parse_cookie_header` reads it.

    A scan with `str.find` rather than a full parse or a regex: on a first visit the
    name is not there at all, and otherwise it is found in a few C-level steps.
    """
    values = []
    start = header.find(name)
    while start != -1:
        chunk_start = header.rfind(";", 0, start) + 1
        chunk_end = header.find(";", start)
        if chunk_end == -1:
            chunk_end = len(header)
        rest = header[start + len(name) : chunk_end].lstrip(" \t")
        if rest.startswith("=") and not header[chunk_start:start].strip(" \t"):
            values.append(rest[1:].strip(" \t"))
        start = header.find(name, start + len(name))
    return values


def _compact_values(compact: str, name: str) -> list[str]:
    """`consent_values` for a compact header (no whitespace at all): a pair starts the header or follows `;`."""
    values = []
    needle = name + "="
    start = compact.find(needle)
    while start != -1:
        if start == 0 or compact[start - 1] == ";":
            end = compact.find(";", start)
            values.append(compact[start + len(needle) : end if end != -1 else len(compact)])
        start = compact.find(needle, start + 1)
    return values


def read_request_cookies(header: str, gpc: bool, config: EdgeConfig, now: float) -> RequestCookies:
    """Decide consent from the Cookie header and keep only what it permits.

    This runs on every request: the consent cookies are found first, then one pass
    over the pairs applies what the config has cached for each name under this grant.
    """
    consent_name = config.consent_cookie_name
    # Browsers separate pairs with "; ". Without those spaces, a header of plain
    # cookie-octets holding no other space needs no trimming: the common case, fast.
    compact = ";".join(header.split("; "))  # str.replace is slower with a two-character needle
    fast = cookies.is_compact(compact)
    values = _compact_values(compact, consent_name) if fast else consent_values(header, consent_name)
    decision, valid_values = _decide(values, gpc, config, now)
    kept = [f"{consent_name}={value}" for value in values if value in valid_values]
    stripped: list[str] = []
    unknown: list[str] = []
    actions = config.actions_for(decision.granted)
    if fast:
        # The one loop every page view runs: kept as flat as Python allows.
        for chunk in compact.split(";"):
            name, sep, _ = chunk.partition("=")
            action = actions.get(name)
            if action == KEEP and sep:
                kept.append(chunk)
            elif sep and name:  # empty or nameless: never forwarded
                if action is None:
                    action = config.action(name, decision.granted)
                _record(action, name, chunk, kept, stripped, unknown)
        return _request_cookies(decision, header, kept, stripped, unknown)
    plain = cookies.header_is_plain(header)
    for chunk in header.split(";"):
        name, sep, value = chunk.strip(" \t").partition("=")
        name, value = name.rstrip(" \t"), value.lstrip(" \t")
        if not name or not sep:
            continue  # empty, or a nameless cookie: never forwarded
        text = f"{name}={value}" if cookies.is_forwardable(name, value, plain) else ""
        action = actions.get(name)
        if action is None:
            action = config.action(name, decision.granted)
        _record(action, name, text, kept, stripped, unknown)
    return _request_cookies(decision, header, kept, stripped, unknown)


def _record(action: int, name: str, text: str, kept: list[str], stripped: list[str], unknown: list[str]) -> None:
    """What a cookie's action does with it; the consent cookie's (CONSENT) was done before the loop."""
    if action <= KEEP_UNKNOWN:
        if text:
            kept.append(text)
        if action == KEEP_UNKNOWN:
            unknown.append(name)
    elif action == STRIP:
        if name not in stripped:
            stripped.append(name)
    elif action == DROP_UNKNOWN:
        unknown.append(name)


def _request_cookies(
    decision: Consent, header: str, kept: list[str], stripped: list[str], unknown: list[str]
) -> RequestCookies:
    forwarded = "; ".join(kept)
    if len(forwarded) > len(header):
        # Never grow the header: CloudFront answers 502 past 20 KB of request headers.
        forwarded = ";".join(kept)
    return RequestCookies(decision, forwarded or None, tuple(stripped), tuple(unknown))


def shed_cookies(header: str, excess: int, config: EdgeConfig) -> str | None:
    """The Cookie header less at least `excess` bytes: optional cookies go first, the consent cookie last.

    For a request CloudFront would refuse as too large once the decision headers are in
    (a 502 for the visitor): without some of its cookies the page still works. The pairs
    keep the header's separator: `;` alone when it has no "; " (rejoined with spaces, a
    compact header would grow).
    """
    separator = "; " if "; " in header or ";" not in header else ";"
    pairs = [f"{name}={value}" for name, value in cookies.parse_cookie_header(header)]

    def rank(pair: str) -> int:  # the higher, the longer it stays
        name = pair.partition("=")[0]
        return 2 if name == config.consent_cookie_name else 1 if config.classify(name)[0] == NECESSARY else 0

    shed = len(header) - len(separator.join(pairs))  # what reading alone took away
    for victim in sorted(reversed(pairs), key=rank):  # within a rank, the last sent goes first
        if shed >= excess:
            break
        pairs.remove(victim)
        shed += len(victim) + len(separator)
    return separator.join(pairs) or None


class ResponseCookies(NamedTuple):
    kept: list[str]
    removed: tuple[str, ...]  # names whose Set-Cookie was dropped
    capped: tuple[str, ...]  # names whose lifetime was shortened
    unknown: tuple[str, ...]


def filter_set_cookies(
    lines: Iterable[str],
    granted: frozenset[str] | None,
    config: EdgeConfig,
    now: float,
    date: str | None = None,
) -> ResponseCookies:
    """Drop malformed Set-Cookie and those of categories not granted; cap every lifetime.

    `date` is the response's `Date` header (a cached response's may be days old): browsers
    move Expires by its distance from their clock.

    `granted` None keeps every category (the consent-independent pass of origin-response).
    A refused cookie that the origin deletes is deleted: removing a cookie never needs consent.
    The consent cookie and its state cookie are the consent endpoint's and viewer-response's
    alone: an origin that echoes them (a "sliding expiry") on a cached page would hand one
    visitor's consent, and the receipts it opens, to every visitor served that copy.
    """
    lines = list(lines)
    if not lines:
        return ResponseCookies([], (), (), ())
    from . import dates, expiry  # the response triggers' alone, at their first Set-Cookie

    cap = dates.add_calendar_months(now, config.max_cookie_months)
    served_at = expiry.firefox_date(date) if date is not None else None
    reserved = (config.consent_cookie_name, config.state_cookie_name)
    kept: list[str] = []
    removed: list[str] = []
    capped: list[str] = []
    unknown: list[str] = []
    for line in lines:
        name = cookies.set_cookie_name(line)
        if not name or cookies.has_forbidden_characters(line) or name in reserved:
            removed.append(name)
            continue
        category, catalogued = config.classify(name)
        if not catalogued:
            unknown.append(name)
        if granted is not None and category not in granted:
            if expiry.asks_for_deletion(line, now, served_at):
                kept.append(expiry.deletion_for(line))  # the deletion, never the origin's own line
            else:
                removed.append(name)
            continue
        shortened = expiry.cap_lifetime(line, now, cap, served_at)
        if shortened is not line:
            capped.append(name)
        kept.append(shortened)
    return ResponseCookies(kept, tuple(removed), tuple(capped), tuple(unknown))


# What the deletions of one response may add: a sibling subdomain can plant hundreds of
# cookies a glob claims, and a viewer-response past Lambda@Edge's 40 KB is a 502 on every
# page. The consent endpoint answers from origin-request (1 MB) and deletes more at once.
DELETION_LINES = 96
DELETION_BYTES = 12_288
ENDPOINT_DELETION_LINES = 256
ENDPOINT_DELETION_BYTES = 32_768
SET_COOKIE_ITEM = len("Set-Cookie: \r\n")  # what each line costs a response besides its text


# The deepest cookie path tried: a cookie path is a site's section, and a crafted URI of
# thousands of segments must not cost viewer-response its 128 MB.
_COOKIE_PATH_SEGMENTS = 16
_COOKIE_PATH_BYTES = frozenset(range(0x21, 0x7F)) - {0x3B}  # RFC 6265's path-value, without `;`


def cookie_paths(uri: str) -> list[str]:
    """Every Path a cookie sent with a request for `uri` can have been stored with, shortest first.

    A browser sends a cookie whose path is the URI, a prefix of it ending in `/`, or a
    prefix the URI continues with `/` (RFC 6265bis 5.1.4): `/a/b` is reached from `/`,
    `/a`, `/a/` and `/a/b`. The query is not part of the path. Only `/` for a path a
    Set-Cookie could not carry (`;`, spaces, controls), and at most 16 segments deep.
    """
    path = uri.split("?", 1)[0]
    if not path.startswith("/") or not _COOKIE_PATH_BYTES.issuperset(path.encode("utf-8", "replace")):
        return ["/"]
    paths = ["/"]
    index = path.find("/", 1)
    while index != -1 and len(paths) <= 2 * _COOKIE_PATH_SEGMENTS:
        paths += [path[:index], path[: index + 1]]
        index = path.find("/", index + 1)
    if index == -1 and path not in paths:
        paths.append(path)
    return paths


def domain_matches(host: str, domain: str) -> bool:
    """Whether a response to `host` (a Host header) may set a cookie with this Domain (RFC 6265bis 5.1.3)."""
    name, _, port = host.rpartition(":")
    host = name if name and port.isdigit() else host  # the Host header may carry a port
    host, domain = host.lower().rstrip("."), domain.lower().lstrip(".")
    return host == domain or host.endswith("." + domain)


def refused_deletions(
    names: Iterable[str],
    granted: frozenset[str],
    config: EdgeConfig,
    uri: str = "/",
    host: str | None = None,
    exact_unseen: bool = False,
    unseen_paths: Iterable[str] = (),
    budget: tuple[int, int] = (DELETION_LINES, DELETION_BYTES),
) -> list[str]:
    """Deletion Set-Cookie lines for the catalogued cookies `granted` refuses.

    A browser keeps a cookie by name, domain, host-only flag and path, and only a deletion
    with all four the same removes it: the only way to reach an HttpOnly cookie the page's
    scripts cannot see. Each of `names` (the cookies a request for `uri` carried) is deleted
    host-only and with its catalogued Domain (where `host` may set one), at its catalogued
    Path and each path `uri` is reached from. With `exact_unseen`, so is every exact
    catalogued name at its catalogued Path and `unseen_paths`, where this request could not
    see it. Each name's catalogued scope comes first (exact names before globs), then the
    others, within `budget` (lines, bytes): what does not fit goes on a later response.
    """
    refused = sorted(_refused(names, granted, config, host), key=lambda item: item[0] not in config.exact)
    unseen = _refused(config.exact, granted, config, host) if exact_unseen else []
    if not refused and not unseen:
        return []  # the page views of a visitor holding nothing refused: nothing more to do
    paths = cookie_paths(uri)

    def candidates() -> Iterator[str]:
        # Made one at a time: the budget, not the number of names and paths, bounds the work.
        for name, catalogued, domains in refused:
            yield cookies.deletion_line(name, catalogued, domains[0])
        for name, catalogued, domains in refused:
            for path in [catalogued, *paths]:
                for domain in domains:
                    yield cookies.deletion_line(name, path, domain)
        for name, catalogued, domains in unseen:
            for path in [catalogued, *unseen_paths]:
                if path not in paths:
                    for domain in domains:
                        yield cookies.deletion_line(name, path, domain)

    most_lines, most_bytes = budget
    lines: list[str] = []
    seen = set()
    size = 0
    for line in candidates():
        if line in seen:
            continue
        if len(lines) == most_lines or size + len(line) + SET_COOKIE_ITEM > most_bytes:
            break
        seen.add(line)
        lines.append(line)
        size += len(line) + SET_COOKIE_ITEM
    return lines


def _refused(
    names: Iterable[str], granted: frozenset[str], config: EdgeConfig, host: str | None
) -> list[tuple[str, str, list[str | None]]]:
    """(name, catalogued path, domains to delete it in) of each catalogued name, once, that `granted` refuses.

    Never the consent cookie. The domains: the catalogued Domain where `host` may set it (a
    browser ignores the whole line otherwise), then host-only.
    """
    refused: list[tuple[str, str, list[str | None]]] = []
    seen = {config.consent_cookie_name}
    for name in names:
        if name in seen or not cookies.is_token(name):
            continue
        seen.add(name)
        entry = config.entry_for(name)
        if entry is not None and entry.category not in granted:
            matches = entry.domain and (host is None or domain_matches(host, entry.domain))
            refused.append((name, entry.path, [entry.domain, None] if matches else [None]))
    return refused


def necessary_cookie_header(header: str, config: EdgeConfig | None) -> str | None:
    """Only the necessary cookies of a Cookie header; none at all without a config to tell which."""
    if config is None:
        return None
    plain = cookies.header_is_plain(header)
    kept = [
        f"{name}={value}"
        for name, value in cookies.parse_cookie_header(header)
        if name != config.consent_cookie_name
        and config.classify(name)[0] == NECESSARY
        and cookies.is_forwardable(name, value, plain)
    ]
    return "; ".join(kept) or None


def necessary_set_cookies(lines: list[str], config: EdgeConfig | None) -> list[str]:
    """Only the well-formed Set-Cookie of necessary cookies (the consent cookie among them)."""
    if config is None:
        return []
    return [
        line
        for line in lines
        if not cookies.is_malformed_set_cookie(line) and config.classify(cookies.set_cookie_name(line))[0] == NECESSARY
    ]
