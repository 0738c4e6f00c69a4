"""The compiled policy, typed: what the compiler checks and writes, the `site` section above all.

The compiler (`edge-consent policy compile`, `sam build`) validates the policy with these
models and writes their dump; the consent endpoint reads that dump with the standard
library (`consent_api.site_policy`, held to these models by the tests), and its package
carries no pydantic. Every default, language and
shape is written here once, and nothing downstream checks a shape again.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from consent_api.site_policy import LANGUAGES, LIFETIME_RE
from consent_core.config import STABLE_BANNER_PATH
from consent_core.cookies import DOMAIN_PATTERN, HOST_PATTERN, PATH_PATTERN, TOKEN_CHARACTERS
from consent_core.token import CATEGORY_ID_PATTERN
from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

Language = Literal["fr", "en"]  # site_policy.LANGUAGES
MAX_LIFETIME_MONTHS = 13
# The shortest span 13 calendar months can be (Jan 31 to Feb 28 of the next year but one).
MAX_LIFETIME_DAYS = 393


def _character_class(characters: str) -> str:
    """A regex class of exactly these characters, letters and digits in ranges (`0-9A-Z`): readable in errors."""
    runs: list[list[int]] = []
    for code in sorted(set(map(ord, characters))):
        if runs and code == runs[-1][-1] + 1 and chr(code).isalnum() and chr(runs[-1][-1]).isalnum():
            runs[-1].append(code)
        else:
            runs.append([code])
    parts = [
        f"{re.escape(chr(run[0]))}-{re.escape(chr(run[-1]))}"
        if len(run) > 2
        else "".join(re.escape(chr(c)) for c in run)
        for run in runs
    ]
    return "[" + "".join(parts) + "]"


# The consent cookie's category field (consent_core.token) decides what an id may be.
CategoryId = Annotated[str, Field(pattern=f"^{CATEGORY_ID_PATTERN}$")]
# A cookie name of the catalogue: token characters (consent_core.cookies), and `?` for globs (`*` is one).
CookieName = Annotated[str, Field(pattern=f"^{_character_class(TOKEN_CHARACTERS + '?')}{{1,128}}$")]

# A lifetime is `session`, or a whole number of units from 1 (LIFETIME_RE): a cookie that lives
# no time at all is a deletion, not a cookie of the catalogue, and one that lives as long as
# the browser is `session`.
_DAYS_PER_UNIT = {"minutes": 1 / 1440, "hours": 1 / 24, "days": 1}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Texts(RootModel[dict[Language, Annotated[str, Field(min_length=1)]]]):
    """A text in every language the pages speak."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="after")
    def every_language(self) -> Texts:
        missing = [lang for lang in LANGUAGES if lang not in self.root]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        return self

    def __getitem__(self, lang: str) -> str:
        return self.root[lang]  # type: ignore[index]  # a Language once the page has chosen


class SiteInfo(Strict):
    name: str = Field(min_length=1)
    controller: str = Field(min_length=1)
    contact: str = Field(min_length=3)
    privacy_policy_url: str = Field(min_length=1)
    default_language: Language = "fr"
    # The site's registrable domain: catalogued cookies with a Domain under it are the
    # site's own (a local run moves them to its own host, where deletions can reach them).
    domain: str | None = Field(default=None, pattern=f"^{HOST_PATTERN}$")

    def owns(self, cookie_domain: str) -> bool:
        if self.domain is None:
            return False
        bare = cookie_domain.lstrip(".").lower()
        return bare == self.domain.lower() or bare.endswith("." + self.domain.lower())


class ConsentCookie(Strict):
    name: str = Field(default="__Host-consent", pattern=f"^{_character_class(TOKEN_CHARACTERS)}{{1,64}}$")
    lifetime_days: int = Field(default=182, ge=1, le=MAX_LIFETIME_DAYS)

    @field_validator("name")
    @classmethod
    def host_prefix_rules(cls, name: str) -> str:
        if name.lower().startswith("__secure-") and not name.startswith("__Secure-"):
            raise ValueError("write the prefix as __Secure-")
        if name.lower().startswith("__host-") and not name.startswith("__Host-"):
            raise ValueError("write the prefix as __Host-")
        return name


class Category(Strict):
    id: CategoryId
    name: Texts
    purpose: Texts


class Cookie(Strict):
    name: CookieName
    category: CategoryId
    provider: str = Field(min_length=1)
    party: Literal["first", "third"] = "first"
    privacy_policy: str | None = None
    purpose: Texts
    lifetime: str
    # What the edge can write back in a deletion's Path and Domain (consent_core.cookies).
    path: str = Field(default="/", pattern=f"^{PATH_PATTERN}$")
    domain: str | None = Field(default=None, pattern=f"^{DOMAIN_PATTERN}$")

    @field_validator("lifetime")
    @classmethod
    def readable_lifetime(cls, value: str) -> str:
        if not LIFETIME_RE.fullmatch(value):
            raise ValueError("write `session` or a number and a unit: `30 minutes`, `24 hours`, `7 days`, `13 months`")
        return value

    @model_validator(mode="after")
    def third_parties_name_their_policy(self) -> Cookie:
        if self.party == "third" and not self.privacy_policy:
            raise ValueError(f"{self.name}: a third-party cookie needs `privacy_policy`, its provider's policy URL")
        return self

    @property
    def is_glob(self) -> bool:
        return "*" in self.name or "?" in self.name

    def lives_longer_than(self, months: int) -> bool:
        match = LIFETIME_RE.fullmatch(self.lifetime)
        if match is None or match.group(1) is None:  # `session`
            return False
        count, unit = int(match.group(1)), match.group(2)
        if unit == "months":
            return count > months
        return count * _DAYS_PER_UNIT[unit] > MAX_LIFETIME_DAYS * months / MAX_LIFETIME_MONTHS


ConsentModeSignal = Literal["ad_storage", "analytics_storage", "ad_user_data", "ad_personalization"]
DEFAULT_CONSENT_MODE: dict[ConsentModeSignal, list[str]] = {
    "ad_storage": ["advertising"],
    "analytics_storage": ["analytics"],
    "ad_user_data": ["advertising"],
    "ad_personalization": ["advertising"],
}


class Site(Strict):
    """The compiled policy's `site`: the site, its purposes, its cookies, and how long things last."""

    site: SiteInfo
    consent_cookie: ConsentCookie = ConsentCookie()
    max_cookie_lifetime_months: int = Field(default=MAX_LIFETIME_MONTHS, ge=1, le=MAX_LIFETIME_MONTHS)
    categories: list[Category] = Field(min_length=1, max_length=12)
    cookies: list[Cookie] = []
    # Google Consent Mode v2: a signal is granted when all its categories are.
    consent_mode: dict[ConsentModeSignal, list[CategoryId]] = DEFAULT_CONSENT_MODE

    def section(self) -> dict[str, Any]:
        """This model as the compiled config carries it."""
        return self.model_dump(mode="json", include=set(Site.model_fields))


# --- The whole compiled config --------------------------------------------------------
# What `edge-consent policy compile` writes and every function loads. The viewer functions
# read the `edge` section with the standard library (`consent_core.config.config_from_dict`);
# these models say the same, and the tests hold the two to it field by field.


class CookieLocation(Strict):
    """Where a catalogued cookie lives; the compiled config writes a path and a domain only when it has them."""

    category: CategoryId
    path: str = Field(default="/", pattern=f"^{PATH_PATTERN}$", exclude_if=lambda path: path == "/")
    domain: str | None = Field(default=None, pattern=f"^{DOMAIN_PATTERN}$", exclude_if=lambda domain: domain is None)


class CookieCatalogue(Strict):
    exact: dict[str, CookieLocation]
    patterns: list[tuple[str, CookieLocation]]


class ConsentCookieLimits(Strict):
    name: str
    max_age: int = Field(ge=1)


class Keys(Strict):
    """The consent cookie's keys (`consent_core.signing.read_keys` checks them when the config is loaded)."""

    signing: str
    keys: dict[str, str]
    development: bool = False


class EdgeSection(Strict):
    policy_version: int = Field(ge=1)
    reconsent_version: int = Field(ge=1)
    categories: list[CategoryId]
    consent_cookie: ConsentCookieLimits
    max_cookie_months: int = Field(ge=1, le=MAX_LIFETIME_MONTHS)
    unknown_cookies: CategoryId | None  # None: cookies missing from the catalogue are denied
    gpc_denies: list[CategoryId]
    cookies: CookieCatalogue
    # None in a built package, which has no `keys`: the deploy adds them from the stack's secret.
    keys: Keys | None = Field(default=None, exclude_if=lambda keys: keys is None)
    banner: str = STABLE_BANNER_PATH


class Receipts(Strict):
    table: str
    region: str
    # The regions of the table's other replicas, when it is a global table; written only then.
    replicas: list[str] = Field(default=[], exclude_if=lambda replicas: not replicas)


class CompiledConfig(Strict):
    format: Literal[1]
    policy_sha256: str = ""
    edge: EdgeSection
    site: Site | None = None  # the consent endpoint's; the viewer functions ignore it
    receipts: Receipts | None = None
