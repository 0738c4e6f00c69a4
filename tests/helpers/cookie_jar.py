"""A browser's cookie store as RFC 6265bis 5.7 describes it: what a Set-Cookie creates, replaces or removes.

A cookie is kept by name, domain, host-only flag and path: a Set-Cookie replaces (or, when
already expired, removes) only the stored cookie that has all four the same. Chromium
cannot show the host-only case on `localhost`; this model can.
"""

from __future__ import annotations

from consent_core.cookies import _attributes, set_cookie_name

from tests.rfc6265 import expiry_of

Key = tuple[str, str, bool, str]  # name, domain, host-only, path


def default_path(request_path: str) -> str:
    """5.1.4: the request path up to, not including, its last `/` (`/` when that leaves nothing)."""
    if not request_path.startswith("/") or request_path.count("/") == 1:
        return "/"
    return request_path[: request_path.rfind("/")]


class CookieJar:
    def __init__(self) -> None:
        self.cookies: dict[Key, str] = {}

    def receive(self, line: str, host: str, request_path: str, now: float) -> None:
        """Apply one Set-Cookie of a response to `host` for `request_path`."""
        name = set_cookie_name(line)
        value = line.split(";", 1)[0].partition("=")[2].strip()
        domain, path = "", default_path(request_path)
        for _, attribute, argument in _attributes(line):
            if attribute == "domain" and argument:
                domain = argument.lstrip(".").lower()
            elif attribute == "path" and argument.startswith("/"):
                path = argument
        if domain and not (host == domain or host.endswith("." + domain)):
            return  # 5.7 step 8: a Domain the host cannot set; the whole line is ignored
        key = (name, domain or host, not domain, path)
        expiry = expiry_of(line, now)
        if expiry is not None and expiry <= now:
            self.cookies.pop(key, None)
        else:
            self.cookies[key] = value

    def names(self) -> set[str]:
        return {name for name, _, _, _ in self.cookies}
