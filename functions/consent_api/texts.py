"""The consent endpoint's words, in French and English, and the choice between them.

Plain strings only, no markup: the pages escape them, and the banner script sets them as
text. A few long texts hold `{placeholders}` that the cookie page fills in.
"""

from __future__ import annotations

import re

from .site_policy import LANGUAGES, LIFETIME_RE

_MAX_HEADER_LENGTH = 4096
_QVALUE_RE = re.compile(r"^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$")
_TAG_RE = re.compile(r"^(?:\*|[a-z]{1,8}(?:-[a-z0-9]{1,8})*)$")


def choose_language(accept_language: str | None, default: str) -> str:
    """The visitor's preferred language among LANGUAGES, read from Accept-Language.

    A malformed header or entry is ignored rather than refused: the page must render
    whatever the browser sends. `*` gives its weight to every language not named, and
    `q=0` excludes a language even when `*` would accept it.
    """
    fallback = default if default in LANGUAGES else LANGUAGES[0]
    if not accept_language:
        return fallback
    explicit: dict[str, tuple[float, int]] = {}
    star: tuple[float, int] | None = None
    for position, entry in enumerate(accept_language[:_MAX_HEADER_LENGTH].split(",")):
        tag, _, params = entry.partition(";")
        tag = tag.strip().lower()
        if not _TAG_RE.match(tag):
            continue
        weight = _weight(params)
        if weight is None:
            continue
        if tag == "*":
            if star is None:
                star = (weight, position)
            continue
        primary = tag.split("-", 1)[0]
        if primary in LANGUAGES:
            known = explicit.get(primary)
            if known is None or weight > known[0]:
                explicit[primary] = (weight, position)
    ranked: list[tuple[float, int, int, str]] = []
    for rank, language in enumerate(LANGUAGES):
        choice = explicit.get(language, star)
        if choice is not None and choice[0] > 0:
            ranked.append((-choice[0], choice[1], 0 if language == fallback else rank + 1, language))
    return min(ranked)[3] if ranked else fallback


def _weight(params: str) -> float | None:
    """The entry's q-value; 1 when absent, None when it cannot be read."""
    for param in params.split(";"):
        name, equals, value = param.partition("=")
        if name.strip().lower() == "q":
            value = value.strip()
            if not equals or not _QVALUE_RE.match(value):
                return None
            return float(value)
    return 1.0


_UNITS: dict[str, dict[str, tuple[str, str]]] = {
    "fr": {
        "minutes": ("minute", "minutes"),
        "hours": ("heure", "heures"),
        "days": ("jour", "jours"),
        "months": ("mois", "mois"),
    },
    "en": {
        "minutes": ("minute", "minutes"),
        "hours": ("hour", "hours"),
        "days": ("day", "days"),
        "months": ("month", "months"),
    },
}


def lifetime_text(lifetime: str, lang: str) -> str:
    """A catalogue lifetime (`site_policy.LIFETIME_RE`: `13 months`, `1 days`, `session`) as a reader would write it.

    An unexpected value is returned unchanged: showing it is better than failing the page.
    """
    words = _UNITS.get(lang, _UNITS["en"])
    match = LIFETIME_RE.fullmatch(lifetime)
    if match is None or match.group(1) is None:  # unexpected, or `session`
        return lifetime
    count = int(match.group(1))
    singular, plural = words[match.group(2)]
    return f"{count} {singular if count == 1 else plural}"


def duration_in_days_text(days: int, lang: str) -> str:
    """A duration in days, also given in months when it is close to a whole number of them.

    The consent cookie's 182 days reads as the CNIL's "6 months (182 days)".
    """
    days_text = lifetime_text(f"{days} days", lang)
    months = round(days / 30.4375)
    if months >= 1 and abs(months * 30.4375 - days) <= 2:
        return f"{lifetime_text(f'{months} months', lang)} ({days_text})"
    return days_text


UI: dict[str, dict[str, str]] = {
    "fr": {
        # Banner and dialog (also used by the banner script)
        "dialog_label": "Vos choix en matière de cookies",
        "banner_title": "Cookies : à vous de choisir",
        "banner_text": (
            "Avec votre accord, nous et des partenaires utilisons des cookies pour des finalités que "
            "« Personnaliser » détaille et vous laisse choisir une à une. Refuser est aussi simple "
            "qu'accepter et ne vous empêche pas d'utiliser le site. Tant que vous n'avez pas choisi, seuls "
            "les cookies strictement nécessaires sont utilisés : continuer à naviguer ne vaut pas accord. "
            "Vous pouvez changer d'avis à tout moment."
        ),
        "purposes_label": "Finalités :",
        "accept_all": "Tout accepter",
        "reject_all": "Tout refuser",
        "customise": "Personnaliser",
        "save_choices": "Enregistrer mes choix",
        "withdraw": "Retirer mon consentement",
        "always_active": "Toujours actifs",
        "preferences_title": "Gérer mes cookies",
        "cookie_page_link": "Tous nos cookies en détail",
        "privacy_link": "Politique de confidentialité",
        "choice_saving": "Enregistrement…",
        "choice_saved": "Votre choix est enregistré.",
        "choice_withdrawn": (
            "Votre consentement est retiré : seuls les cookies strictement nécessaires sont désormais utilisés."
        ),
        "choice_failed": "Votre choix n'a pas pu être enregistré. Merci de réessayer.",
        "back_to_site": "Retour au site",
        # Preferences page
        "preferences_intro": (
            "Choisissez finalité par finalité. Sans choix de votre part, seuls les cookies strictement "
            "nécessaires sont utilisés. Refuser ne vous empêche pas d'utiliser le site, et vous pouvez "
            "changer d'avis à tout moment sur cette page."
        ),
        "current_choice": "Votre choix actuel",
        "no_choice_yet": (
            "Vous n'avez pas encore fait de choix : seuls les cookies strictement nécessaires sont utilisés."
        ),
        "choice_expired": "Votre choix précédent a expiré : merci de choisir à nouveau.",
        "choice_outdated": "Nos cookies ont changé depuis votre dernier choix : merci de choisir à nouveau.",
        "you_accept": "Vous acceptez :",
        "you_refuse": "Vous refusez :",
        "only_necessary": "Vous avez refusé tous les cookies qui ne sont pas strictement nécessaires.",
        "cookies_used": "Cookies utilisés",
        "col_name": "Nom",
        "col_provider": "Émetteur",
        "col_party": "Nature",
        "col_purpose": "Finalité",
        "col_lifetime": "Durée de vie",
        "first_party": "Cookie propriétaire",
        "third_party": "Cookie tiers",
        "consent_cookie_purpose": "Mémorise votre choix en matière de cookies.",
        # Cookie page
        "cookies_page_title": "Les cookies sur notre site",
        "what_title": "Qu'est-ce qu'un cookie ?",
        "what_text": (
            "Un cookie est un petit fichier texte qu'un site demande à votre navigateur d'enregistrer sur "
            "votre ordinateur, votre téléphone ou votre tablette, puis de lui renvoyer lors de vos visites "
            "suivantes. Il permet à son émetteur de reconnaître votre navigateur pendant sa durée de vie. "
            "Les autres traceurs (stockage local, pixels) suivent les mêmes règles."
        ),
        "purposes_title": "À quoi servent nos cookies ?",
        "purposes_text": (
            "Les cookies strictement nécessaires au fonctionnement du site sont exemptés de consentement. "
            "Tous les autres ne sont utilisés qu'avec votre accord, finalité par finalité :"
        ),
        "consent_title": "Votre consentement",
        "consent_text": (
            "Nous vous demandons votre accord avant tout cookie qui n'est pas strictement nécessaire. "
            "Tant que vous n'avez pas choisi, seuls les cookies strictement nécessaires sont utilisés : "
            "continuer à naviguer sur le site ne vaut pas consentement, et sans réponse de votre part, "
            "nous considérons que vous refusez. "
            "Refuser est aussi simple qu'accepter et ne vous empêche pas d'accéder au site."
        ),
        "choice_duration_text": (
            "Votre choix, accord ou refus, est conservé {duration}, puis nous vous le redemandons. "
            "Nous vous le redemandons aussi si nous ajoutons une finalité ou un partenaire."
        ),
        "list_title": "La liste de nos cookies",
        "list_text": (
            "Voici tous les cookies que notre site peut utiliser, classés par finalité. "
            "Un nom qui se termine par * désigne une famille de cookies portant ce préfixe."
        ),
        "max_lifetime_title": "Durée de vie des cookies",
        "max_lifetime_text": (
            "Aucun cookie de notre site n'est conservé plus de {months} mois : nos serveurs ramènent à "
            "{months} mois la durée de tout cookie plus long qui passe par eux."
        ),
        "third_parties_title": "Les cookies de nos partenaires",
        "third_parties_text": (
            "Les cookies déposés et lus par un tiers relèvent de sa propre politique de confidentialité, "
            "que nous vous invitons à consulter :"
        ),
        "social_title": "Les boutons de partage des réseaux sociaux",
        "social_text": (
            "Nos pages peuvent afficher des boutons « Partager » ou « J'aime » de réseaux sociaux. "
            "Un réseau social peut vous identifier grâce à son bouton même si vous ne cliquez pas dessus, "
            "du seul fait que votre compte est ouvert dans votre navigateur, et suivre ainsi votre navigation "
            "sur notre site. C'est pourquoi ces boutons ne sont chargés qu'après votre accord pour la finalité "
            "« {category} ». Nous ne contrôlons pas ce que ces réseaux font des informations recueillies : "
            "leurs politiques de confidentialité, et les réglages de votre compte chez eux, vous permettent de "
            "faire vos choix."
        ),
        "ads_title": "Les contenus publicitaires de tiers",
        "ads_text": (
            "Les publicités affichées dans nos espaces publicitaires peuvent contenir des cookies de tiers : "
            "l'annonceur ou ses prestataires (agence de communication, société de mesure d'audience, "
            "prestataire de publicité ciblée). Ces cookies peuvent leur permettre de compter les publicités "
            "affichées et les clics, et de reconnaître votre appareil sur d'autres sites pour y adapter leurs "
            "publicités. Ils ne sont utilisés qu'avec votre accord pour la finalité « {category} »."
        ),
        "choices_title": "Vos choix",
        "choices_site_title": "Sur notre site",
        "choices_site_text": (
            "Vous pouvez donner, modifier ou retirer votre consentement à tout moment, aussi simplement "
            "que vous l'avez donné, sur la page de gestion des cookies. Retirer votre consentement supprime "
            "les cookies concernés que notre site peut effacer. Refuser ne vous prive d'aucun accès au site."
        ),
        "choices_browser_title": "Dans votre navigateur",
        "choices_browser_text": (
            "Votre navigateur vous permet aussi de consulter, de supprimer et de bloquer les cookies, "
            "pour tous les sites ou site par site. Bloquer tous les cookies, y compris les cookies "
            "strictement nécessaires, peut empêcher certaines fonctions du site, comme l'espace membre. "
            "Les aides des principaux navigateurs :"
        ),
        "flash_text": ("Adobe a cessé de distribuer Flash Player fin 2020 : notre site n'utilise aucun cookie Flash."),
        "controller_title": "Responsable du traitement",
        "controller_text": "Le responsable du traitement est {controller}. Pour toute question sur vos données :",
        "more_title": "En savoir plus",
        "more_text": "La CNIL explique les cookies et les moyens de les maîtriser :",
        "cnil_link": "Cookies et autres traceurs, sur le site de la CNIL",
    },
    "en": {
        "dialog_label": "Your cookie choices",
        "banner_title": "Cookies: your choice",
        "banner_text": (
            "With your consent, we and partners use cookies for purposes that Customise describes and lets "
            "you choose one by one. Refusing is as easy as accepting and does not stop you from using the "
            "site. Until you choose, only strictly necessary cookies are used: continuing to browse is not "
            "consent. You can change your mind at any time."
        ),
        "purposes_label": "Purposes:",
        "accept_all": "Accept all",
        "reject_all": "Reject all",
        "customise": "Customise",
        "save_choices": "Save my choices",
        "withdraw": "Withdraw my consent",
        "always_active": "Always active",
        "preferences_title": "Manage my cookies",
        "cookie_page_link": "All our cookies in detail",
        "privacy_link": "Privacy policy",
        "choice_saving": "Saving…",
        "choice_saved": "Your choice has been saved.",
        "choice_withdrawn": "Your consent has been withdrawn: only strictly necessary cookies are used from now on.",
        "choice_failed": "Your choice could not be saved. Please try again.",
        "back_to_site": "Back to the site",
        "preferences_intro": (
            "Choose purpose by purpose. Without a choice from you, only strictly necessary cookies are used. "
            "Refusing does not stop you from using the site, and you can change your mind at any time on this page."
        ),
        "current_choice": "Your current choice",
        "no_choice_yet": "You have not made a choice yet: only strictly necessary cookies are used.",
        "choice_expired": "Your previous choice has expired: please choose again.",
        "choice_outdated": "Our cookies have changed since your last choice: please choose again.",
        "you_accept": "You accept:",
        "you_refuse": "You refuse:",
        "only_necessary": "You refused every cookie that is not strictly necessary.",
        "cookies_used": "Cookies used",
        "col_name": "Name",
        "col_provider": "Provider",
        "col_party": "Party",
        "col_purpose": "Purpose",
        "col_lifetime": "Lifetime",
        "first_party": "First party",
        "third_party": "Third party",
        "consent_cookie_purpose": "Remembers your cookie choice.",
        "cookies_page_title": "Cookies on our site",
        "what_title": "What is a cookie?",
        "what_text": (
            "A cookie is a small text file that a website asks your browser to store on your computer, phone "
            "or tablet, and to send back on your next visits. It lets whoever set it recognise your browser "
            "for as long as it lives. Other trackers (local storage, pixels) follow the same rules."
        ),
        "purposes_title": "What are our cookies for?",
        "purposes_text": (
            "Cookies that are strictly necessary for the site to work are exempt from consent. "
            "All the others are used only with your consent, purpose by purpose:"
        ),
        "consent_title": "Your consent",
        "consent_text": (
            "We ask for your consent before any cookie that is not strictly necessary. Until you choose, only "
            "strictly necessary cookies are used: continuing to browse the site is not consent, and no answer "
            "counts as a refusal. Refusing is as easy as accepting and does not stop you from using the site."
        ),
        "choice_duration_text": (
            "Your choice, whether you accept or refuse, is kept for {duration}; then we ask you again. "
            "We also ask again if we add a purpose or a partner."
        ),
        "list_title": "All our cookies",
        "list_text": (
            "Here is every cookie our site may use, grouped by purpose. "
            "A name ending in * stands for a family of cookies with that prefix."
        ),
        "max_lifetime_title": "How long cookies live",
        "max_lifetime_text": (
            "No cookie of our site is kept for more than {months} months: our servers cut to {months} months "
            "the lifetime of any longer cookie that passes through them."
        ),
        "third_parties_title": "Our partners' cookies",
        "third_parties_text": (
            "Cookies set and read by a third party fall under that party's own privacy policy, which we invite "
            "you to read:"
        ),
        "social_title": "Social network share buttons",
        "social_text": (
            'Our pages may show social networks\' "Share" or "Like" buttons. A social network can identify you '
            "through its button even if you do not click it, simply because your account is open in your "
            "browser, and so follow your browsing on our site. That is why these buttons are loaded only after "
            'you consent to the purpose "{category}". We do not control what these networks do with the '
            "information they collect: their privacy policies, and your account settings with them, let you "
            "make your choices."
        ),
        "ads_title": "Third-party advertising content",
        "ads_text": (
            "The ads shown in our ad spaces may contain cookies from third parties: the advertiser or its "
            "providers (communication agency, audience measurement company, targeted advertising provider). "
            "These cookies can let them count the ads displayed and the clicks, and recognise your device on "
            'other sites to adapt their ads there. They are used only with your consent to the purpose "{category}".'
        ),
        "choices_title": "Your choices",
        "choices_site_title": "On our site",
        "choices_site_text": (
            "You can give, change or withdraw your consent at any time, as easily as you gave it, on the cookie "
            "settings page. Withdrawing your consent deletes the cookies concerned that our site can erase. "
            "Refusing never restricts your access to the site."
        ),
        "choices_browser_title": "In your browser",
        "choices_browser_text": (
            "Your browser also lets you view, delete and block cookies, for every site or site by site. "
            "Blocking all cookies, strictly necessary ones included, can stop some features of the site from "
            "working, such as the member area. The main browsers' help pages:"
        ),
        "flash_text": "Adobe stopped distributing Flash Player at the end of 2020: our site uses no Flash cookies.",
        "controller_title": "Data controller",
        "controller_text": "The data controller is {controller}. For any question about your data:",
        "more_title": "Find out more",
        "more_text": "The CNIL, the French data protection authority, explains cookies and how to control them:",
        "cnil_link": "Cookies and other tracking devices, on the CNIL's website",
    },
}

BROWSER_HELP: dict[str, tuple[tuple[str, str], ...]] = {
    "fr": (
        ("Chrome", "https://support.google.com/chrome/answer/95647?hl=fr"),
        ("Firefox", "https://support.mozilla.org/fr/kb/effacer-cookies-donnees-site-firefox"),
        ("Safari", "https://support.apple.com/fr-fr/guide/safari/sfri11471/mac"),
        (
            "Edge",
            "https://support.microsoft.com/fr-fr/microsoft-edge/"
            "supprimer-les-cookies-dans-microsoft-edge-63947406-40ac-c3b8-57b9-2a946a29ae09",
        ),
    ),
    "en": (
        ("Chrome", "https://support.google.com/chrome/answer/95647?hl=en"),
        ("Firefox", "https://support.mozilla.org/en-US/kb/clear-cookies-and-site-data-firefox"),
        ("Safari", "https://support.apple.com/en-us/guide/safari/sfri11471/mac"),
        (
            "Edge",
            "https://support.microsoft.com/en-us/microsoft-edge/"
            "delete-cookies-in-microsoft-edge-63947406-40ac-c3b8-57b9-2a946a29ae09",
        ),
    ),
}

CNIL_URL = {
    "fr": "https://www.cnil.fr/fr/cookies-et-autres-traceurs",
    "en": "https://www.cnil.fr/en/cookies-and-other-tracking-devices",
}
