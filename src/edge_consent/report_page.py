"""The report as one self-contained HTML page, in French or English: nothing to fetch, no network needed.

Every figure is written as a number in a table, so that a screen reader, a printout and a
search read the same thing. The charts above the tables draw the same figures over time
with uPlot (MIT; its minified script and style are embedded, 53 KB, in `vendor/uplot`,
the version pinned in tests/node and checked byte for byte), and are hidden from
assistive technology, which reads the tables; the bars beside the shares are decoration.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consent_core.config import NECESSARY

from .report import (
    ACTIONS,
    DAY,
    EVENTS,
    METHODS,
    Choices,
    EdgeSeen,
    InventoryRow,
    Series,
    bucket,
    day,
    policy_snippet,
    share,
)

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Rapport de consentement",
        "period": "Période",
        "generated": "Généré le",
        "sources": "Sources lues",
        "unread": "Non lu",
        "summary": "En bref",
        "figure": "Chiffre",
        "page_views": "Pages vues à la périphérie",
        "no_choice": "Pages vues sans choix (bannière affichée)",
        "decisions": "Choix enregistrés",
        "per_banner": "Choix pour 100 pages vues sans choix",
        "withdrawals": "Retraits",
        "gpc": "Choix faits avec Global Privacy Control",
        "by_day": "Choix par jour",
        "day": "Jour",
        "methods": "Comment les visiteurs ont choisi",
        "method": "Choix",
        "count": "Nombre",
        "share": "Part",
        "opt_in": "Consentement par finalité",
        "category": "Finalité",
        "opt_in_rate": "Part des choix qui l'acceptent",
        "opt_in_by_day": "Consentement par finalité et par jour (%)",
        "countries": "Par pays",
        "languages": "Par langue",
        "collections": "Par moyen (bannière, formulaire, API)",
        "versions": "Versions de la politique",
        "states": "Pages vues par état du consentement",
        "state": "État",
        "inventory": "Inventaire des cookies",
        "inventory_intro": "Chaque nom de cookie que la périphérie a vu et traité, les inconnus du catalogue "
        "d'abord : la notice les oublie.",
        "name": "Nom",
        "known": "Au catalogue",
        "treated_as": "Traité comme",
        "closest": "Entrée la plus proche",
        "first_seen": "Vu la première fois",
        "last_seen": "Vu la dernière fois",
        "yes": "oui",
        "no": "non",
        "to_add": "À ajouter à policy/policy.yaml (cookies:), puis à compléter",
        "failures": "Réponses en mode dégradé (seuls les cookies nécessaires), par région",
        "region": "Région",
        "trigger": "Fonction",
        "none": "Aucune.",
        "chain": "Vérification des chaînes de preuves",
        "chain_ok": "Toutes les chaînes de preuves sont intactes.",
        "nothing": "Rien sur cette période.",
        "chart_note": "Graphique, {step} : les chiffres sont dans les tableaux.",
        "step_86400": "par jour",
        "step_3600": "par heure",
        "step_60": "par minute",
        "views_by_day": "Pages vues par jour",
        "with_choice": "avec un choix valide",
        "without_choice": "sans choix (bannière)",
    },
    "en": {
        "title": "Consent report",
        "period": "Period",
        "generated": "Generated on",
        "sources": "Sources read",
        "unread": "Not read",
        "summary": "At a glance",
        "figure": "Figure",
        "page_views": "Page views at the edge",
        "no_choice": "Page views with no choice (banner shown)",
        "decisions": "Choices recorded",
        "per_banner": "Choices per 100 page views with no choice",
        "withdrawals": "Withdrawals",
        "gpc": "Choices made with Global Privacy Control",
        "by_day": "Choices by day",
        "day": "Day",
        "methods": "How visitors chose",
        "method": "Choice",
        "count": "Count",
        "share": "Share",
        "opt_in": "Consent by purpose",
        "category": "Purpose",
        "opt_in_rate": "Share of choices accepting it",
        "opt_in_by_day": "Consent by purpose and day (%)",
        "countries": "By country",
        "languages": "By language",
        "collections": "By means (banner, form, API)",
        "versions": "Policy versions",
        "states": "Page views by consent state",
        "state": "State",
        "inventory": "Cookie inventory",
        "inventory_intro": "Every cookie name the edge saw and acted on, those missing from the catalogue "
        "first: the notice forgets them.",
        "name": "Name",
        "known": "Catalogued",
        "treated_as": "Treated as",
        "closest": "Closest entry",
        "first_seen": "First seen",
        "last_seen": "Last seen",
        "yes": "yes",
        "no": "no",
        "to_add": "To add to policy/policy.yaml (cookies:), then to complete",
        "failures": "Answers that failed closed (necessary cookies only), by region",
        "region": "Region",
        "trigger": "Function",
        "none": "None.",
        "chain": "Evidence chain check",
        "chain_ok": "Every evidence chain is intact.",
        "nothing": "Nothing in this period.",
        "chart_note": "Chart, {step}: the figures are in the tables.",
        "step_86400": "by day",
        "step_3600": "by hour",
        "step_60": "by minute",
        "views_by_day": "Page views by day",
        "with_choice": "with a valid choice",
        "without_choice": "with no choice (banner)",
    },
}

# The words of the figures' own values, in each language.
LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "given": "donné", "refused": "refusé", "updated": "modifié", "withdrawn": "retiré",
        "accept_all": "tout accepter", "reject_all": "tout refuser", "custom": "personnalisé", "withdraw": "retrait",
        "absent": "aucun choix", "valid": "choix valide", "outdated": "politique changée depuis",
        "expired": "expiré", "invalid": "invalide", "error": "erreur",
        "stripped": "retiré des requêtes", "removed": "Set-Cookie supprimé", "capped": "durée réduite",
        "deleted": "effacé du navigateur", "unknown_in_request": "inconnu (requêtes)",
        "unknown_in_response": "inconnu (réponses)", "banner": "bannière", "form": "formulaire", "api": "API",
    },
    "en": {
        "given": "given", "refused": "refused", "updated": "updated", "withdrawn": "withdrawn",
        "accept_all": "accept all", "reject_all": "reject all", "custom": "custom", "withdraw": "withdrawal",
        "absent": "no choice", "valid": "valid choice", "outdated": "policy changed since",
        "expired": "expired", "invalid": "invalid", "error": "error",
        "stripped": "stripped from requests", "removed": "Set-Cookie removed", "capped": "lifetime capped",
        "deleted": "deleted from browsers", "unknown_in_request": "unknown (requests)",
        "unknown_in_response": "unknown (responses)", "banner": "banner", "form": "form", "api": "API",
    },
}  # fmt: skip

CSS = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#111;"
    "background:#fff}h1,h2{line-height:1.2}table{border-collapse:collapse;margin:.5rem 0 1.5rem}"
    "th,td{border:1px solid #767676;padding:.25rem .5rem;text-align:left;vertical-align:top}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}.bar{display:inline-block;height:.7rem;"
    "background:#1d4ed8;margin-left:.4rem}pre{background:#f3f4f6;padding:.5rem;overflow:auto}"
    ".warn{color:#8a1c00}.chart{margin:0 0 .5rem}.legend{list-style:none;padding:0;display:flex;"
    "flex-wrap:wrap;gap:1rem}.swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem}"
    "figcaption{font-size:.9rem;color:#444}"
)


UPLOT = Path(__file__).with_name("vendor") / "uplot"
UPLOT_VERSION = "1.6.32"  # tests/node/package.json's, whose files these are
COLOURS = ["#1d4ed8", "#b91c1c", "#047857", "#a16207", "#6d28d9", "#0e7490", "#be185d"]
# Draws each chart of #chart-data into its element: one x (Unix seconds, a step apart), a y a series.
DRAW = """(function () {
  var charts = JSON.parse(document.getElementById("chart-data").textContent);
  charts.forEach(function (chart) {
    var box = document.getElementById(chart.id);
    var series = [{}].concat(chart.series.map(function (name, i) {
      return {label: name, stroke: chart.colours[i], width: 2, points: {show: true, size: 6}};
    }));
    var percent = function (u, ticks) { return ticks.map(function (v) { return v + " %"; }); };
    new uPlot({width: Math.max(320, Math.min(900, box.clientWidth)), height: 240, series: series,
      legend: {show: false}, cursor: {show: false},
      scales: {x: {time: true}, y: chart.percent ? {range: [0, 100]} : {}},
      axes: [{}, chart.percent ? {values: percent} : {}]}, [chart.x].concat(chart.y), box);
  });
})();"""


def _chart(chart_id: str, series: list[str], note: str) -> str:
    """The chart's place, its legend (the series' names beside their colours), hidden from assistive technology."""
    legend = "".join(
        f'<li><span class="swatch" style="background:{COLOURS[i % len(COLOURS)]}"></span>{_e(name)}</li>'
        for i, name in enumerate(series)
    )
    return (
        f'<figure class="chart" aria-hidden="true"><div id="{chart_id}" class="plot"></div>'
        f'<ul class="legend">{legend}</ul><figcaption>{_e(note)}</figcaption></figure>'
    )


def _series(chart_id: str, xs: list[float], series: dict[str, list[Any]], percent: bool) -> dict[str, Any]:
    return {
        "id": chart_id,
        "x": xs,
        "series": list(series),
        "y": list(series.values()),
        "colours": [COLOURS[i % len(COLOURS)] for i in range(len(series))],
        "percent": percent,
    }


def _by_day(t: dict[str, str], series: Series, names: dict[str, str], written: Callable[[Any], str]) -> str:
    """A series a day a row, its columns named by `names` (key -> header)."""
    starts, values = series
    rows = [[_e(day(start)), *(written(values[key][i]) for key in names)] for i, start in enumerate(starts)]
    return _table([t["day"], *names.values()], rows, set(range(1, len(names) + 1)))


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


class Numbers:
    """Counts and shares as the page's language writes them: `1 224` and `41,5 %`, or `1,224` and `41.5%`."""

    def __init__(self, lang: str) -> None:
        self.french = lang == "fr"

    def count(self, value: int) -> str:
        text = f"{value:,}"
        return text.replace(",", "\u202f") if self.french else text

    def share(self, value: float | None) -> str:
        if value is None:
            return "–"
        return f"{value:.1f}".replace(".", ",") + "\u202f%" if self.french else f"{value:.1f}%"


def _table(headers: list[str], rows: list[list[Any]], numeric: frozenset[int] | set[int] = frozenset()) -> str:
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<th scope="row">{cell}</th>'
            if i == 0
            else f'<td class="n">{cell}</td>'
            if i in numeric
            else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _shares(
    t: dict[str, str], num: Numbers, words: dict[str, str], counts: dict[Any, int], total: int, label: str
) -> str:
    if not counts:
        return f"<p>{_e(t['nothing'])}</p>"
    rows = []
    for key, count in sorted(counts.items(), key=lambda item: (-item[1], str(item[0]))):
        part = share(count, total)
        bar = f'<span class="bar" style="width:{(part or 0) / 4:.1f}rem" aria-hidden="true"></span>'
        rows.append([_e(words.get(str(key), key)), num.count(count), num.share(part) + bar])
    return _table([label, t["count"], t["share"]], rows, {1})


def render(
    lang: str,
    site: str,
    since: float,
    until: float,
    now: float,
    choices: Choices,
    edge: EdgeSeen,
    rows: list[InventoryRow],
    categories: dict[str, str],  # id -> its name in `lang`, in the policy's order
    catalogue_categories: dict[str, str],
    sources: list[str],
    unread: list[str],
) -> str:
    t, words, num = TEXTS[lang], LABELS[lang], Numbers(lang)
    charts: list[dict[str, Any]] = []
    colon = "\u00a0:" if lang == "fr" else ":"  # French puts a (non-breaking) space before a colon
    parts = [
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(t['title'])} – {_e(site)}</title>",
        f"<style>{CSS}{(UPLOT / 'uPlot.min.css').read_text(encoding='utf-8')}</style></head><body><main>",
        f"<h1>{_e(t['title'])} – {_e(site)}</h1>",
        f"<p>{_e(t['period'])}{colon} {_e(_time(since))} → {_e(_time(until))}. "
        f"{_e(t['generated'])} {_e(_time(now))}.</p>",
        f"<p>{_e(t['sources'])}{colon} {_e('; '.join(sources))}</p>",
    ]
    for problem in unread:
        parts.append(f'<p class="warn">{_e(t["unread"])}{colon} {_e(problem)}</p>')
    summary = [
        [_e(t["page_views"]), num.count(edge.page_views)],
        [_e(t["no_choice"]), num.count(edge.no_choice)],
        [_e(t["decisions"]), num.count(choices.decisions)],
        [_e(t["per_banner"]), num.share(share(choices.decisions, edge.no_choice))],
        [_e(t["withdrawals"]), num.count(choices.total - choices.decisions)],
        [_e(t["gpc"]), f"{num.count(choices.gpc)} ({num.share(share(choices.gpc, choices.total))})"],
    ]
    parts += [f"<h2>{_e(t['summary'])}</h2>", _table([t["figure"], t["count"]], summary, {1})]
    step = bucket([moment for moment, _, _ in choices.moments] + [start for start, _ in edge.views_at])
    note = t["chart_note"].replace("{step}", t[f"step_{step}"])

    def over_time(
        chart_id: str, at: Callable[[int], Series], names: dict[str, str], charted: list[str], percent: bool = False
    ) -> list[str]:
        """The `charted` series a step a point, when that makes two points at least; then all of them a day a row."""
        starts, values = at(step)
        shown = []
        if len(starts) >= 2:
            charts.append(_series(chart_id, starts, {names[k]: values[k] for k in charted}, percent))
            shown.append(_chart(chart_id, [names[k] for k in charted], note))
        return [*shown, _by_day(t, at(DAY), names, num.share if percent else num.count)]

    parts.append(f"<h2>{_e(t['by_day'])}</h2>")
    if choices.moments:
        parts += over_time("chart-choices", choices.events, {e: words[e] for e in EVENTS}, list(EVENTS))
    else:
        parts.append(f"<p>{_e(t['nothing'])}</p>")
    methods = {m: choices.methods[m] for m in METHODS if choices.methods[m]}
    parts += [f"<h2>{_e(t['methods'])}</h2>", _shares(t, num, words, methods, choices.total, t["method"])]
    parts.append(f"<h2>{_e(t['opt_in'])}</h2>")
    opt_in = [[_e(name), num.share(choices.opt_in(c))] for c, name in categories.items()]
    parts.append(_table([t["category"], t["opt_in_rate"]], opt_in, {1}))
    if choices.decided:
        parts.append(f"<h2>{_e(t['opt_in_by_day'])}</h2>")
        optional = [c for c in categories if c != NECESSARY]  # necessary: always 100 %, no line to draw

        def opt_in_at(size: int) -> Series:
            return choices.opt_in_by_step(size, categories)

        parts += over_time("chart-opt-in", opt_in_at, categories, optional, percent=True)
    for key, counts in (
        ("countries", choices.countries),
        ("languages", choices.languages),
        ("collections", choices.collections),
        ("versions", choices.policy_versions),
    ):
        parts += [f"<h2>{_e(t[key])}</h2>", _shares(t, num, words, dict(counts), choices.total, t[key])]
    parts += [f"<h2>{_e(t['states'])}</h2>", _shares(t, num, words, dict(edge.views), edge.page_views, t["state"])]
    if edge.views_at:
        parts.append(f"<h2>{_e(t['views_by_day'])}</h2>")
        labels = {"valid": t["with_choice"], "no_choice": t["without_choice"]}
        parts += over_time("chart-views", edge.views_by_step, labels, list(labels))
    parts += [f"<h2>{_e(t['inventory'])}</h2>", f"<p>{_e(t['inventory_intro'])}</p>"]
    if rows:
        actions = [words[a] for a in ACTIONS]
        table_rows = [
            [
                f"<code>{_e(r.name)}</code>",
                _e(t["yes"] if r.known else t["no"]),
                _e(categories.get(r.category or "", r.category or "–")),
                f"<code>{_e(r.closest)}</code>" if r.closest else "–",
                *(num.count(r.actions.get(a, 0)) for a in ACTIONS),
                _e(_time(r.first)),
                _e(_time(r.last)),
            ]
            for r in rows
        ]
        parts.append(
            _table(
                [t["name"], t["known"], t["treated_as"], t["closest"], *actions, t["first_seen"], t["last_seen"]],
                table_rows,
                set(range(4, 4 + len(ACTIONS))),
            )
        )
        unknown = [r for r in rows if not r.known]
        if unknown:
            snippets = "\n".join(policy_snippet(r, catalogue_categories) for r in unknown)
            parts.append(f"<h3>{_e(t['to_add'])}</h3><pre><code>{_e(snippets)}</code></pre>")
    else:
        parts.append(f"<p>{_e(t['nothing'])}</p>")
    parts.append(f"<h2>{_e(t['failures'])}</h2>")
    if edge.failures:
        failures = sorted(edge.failures.items())
        failure_rows = [[_e(region), _e(trigger), num.count(n)] for (region, trigger), n in failures]
        parts.append(_table([t["region"], t["trigger"], t["count"]], failure_rows, {2}))
    else:
        parts.append(f"<p>{_e(t['none'])}</p>")
    parts.append(f"<h2>{_e(t['chain'])}</h2>")
    if choices.chain_problems:
        items = "".join(f"<li>{_e(p)}</li>" for p in choices.chain_problems[:100])
        parts.append(f'<ul class="warn">{items}</ul>')
    else:
        parts.append(f"<p>{_e(t['chain_ok'])}</p>")
    parts.append("</main>")
    if charts:
        data = json.dumps(charts).replace("</", "<\\/")  # never closes the script element
        script = (UPLOT / "uPlot.iife.min.js").read_text(encoding="utf-8")
        parts.append(f'<script type="application/json" id="chart-data">{data}</script>')
        parts.append(f"<script>{script}</script><script>{DRAW}</script>")
    parts.append("</body></html>")
    return "\n".join(parts)
