"""`edge-consent report`: the figures of known receipts and edge counts, and a page that says what it could not read."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from consent_api.models import Receipt
from consent_core.config import config_from_dict

from edge_consent import cli, policy, project, report
from tests.helpers.receipts import chained_receipt

DAY = "2026-11-20"
T_DAY = 1_795_132_800.0  # 2026-11-20T00:00:00Z
SINCE, UNTIL = "2026-11-15", "2026-11-25"


def receipt(receipt_id: str, consent_id: str, time: str, **fields: Any) -> Receipt:
    """A receipt of the sample site, everything accepted unless `fields` say otherwise."""
    everything = ("advertising", "analytics", "necessary", "preferences", "social")
    base = chained_receipt(consent_id, 0, None, 1_830_000_000, receipt_id)
    return dataclasses.replace(base, **{"time": time, "granted": everything, "country": "FR", **fields})


def known_receipts() -> list[Receipt]:
    accepted = receipt("r1", "c1", f"{DAY}T09:00:00.000Z")
    return [
        accepted,
        receipt(
            "r2", "c2", f"{DAY}T10:00:00.000Z", event="refused", method="reject_all", collection="form",
            granted=("necessary",), refused=("advertising", "analytics", "preferences", "social"), country="DE",
            language="en",
        ),
        receipt(
            "r3", "c3", f"{DAY}T11:00:00.000Z", method="custom", granted=("analytics", "necessary"),
            refused=("advertising", "preferences", "social"), gpc=True,
        ),
        receipt(
            "r4", "c1", "2026-11-21T08:00:00.000Z", event="withdrawn", method="withdraw", granted=("necessary",),
            refused=("advertising", "analytics", "preferences", "social"), previous_receipt_sha256=accepted.sha256(),
            previous_receipt_time=accepted.time,
        ),
        receipt("r0", "c0", "2026-10-01T08:00:00.000Z"),  # before the period: in no figure
    ]  # fmt: skip


def edge_line(trigger: str, region: str, since: float, **fields: Any) -> str:
    line = {"level": "INFO", "event": "edge_counts", "trigger": trigger, "region": region, "since": since,
            "until": since + 60, "views": {}, "cookies": {}, "failures": 0, **fields}  # fmt: skip
    return json.dumps(line)


EDGE_LOG = [
    edge_line(
        "viewer-request",
        "eu-west-3",
        T_DAY + 36000,
        views={"absent": 90, "valid": 40, "outdated": 10},
        cookies={"stripped": {"_ga": 12}, "unknown_in_request": {"_ttp": 3}},
    ),
    edge_line(
        "viewer-response",
        "eu-west-3",
        T_DAY + 36060,
        cookies={"deleted": {"_ga": 2}, "unknown_in_response": {"_hjid": 4}},
    ),
    edge_line("origin-response", "us-east-1", T_DAY + 36120, cookies={"capped": {"csrftoken": 5}}, failures=2),
    edge_line("viewer-request", "eu-west-3", T_DAY - 30 * 86400, views={"absent": 1000}),  # before the period
    'INFO {"event": "edge_counts", "since": ',  # cut short in transit
    "START RequestId: 1f0e Version: 7",  # any other line
]


def test_the_receipts_figures() -> None:
    since, until = T_DAY - 5 * 86400, T_DAY + 5 * 86400
    figures = report.read_choices(known_receipts(), since, until, now=T_DAY + 6 * 86400)
    assert figures.total == 4 and figures.decisions == 3  # a withdrawal is not a decision on purposes
    days, events = figures.events(report.DAY)  # DAY, then 2026-11-21
    assert days == [T_DAY, T_DAY + report.DAY]
    assert events == {"given": [2, 0], "refused": [1, 0], "updated": [0, 0], "withdrawn": [0, 1]}
    assert dict(figures.methods) == {"accept_all": 1, "reject_all": 1, "custom": 1, "withdraw": 1}
    assert figures.opt_in("analytics") == 66.7 and figures.opt_in("advertising") == 33.3
    assert figures.opt_in("necessary") == 100.0
    assert figures.opt_in_by_step(report.DAY, ["analytics"]) == ([T_DAY], {"analytics": [66.7]})
    assert dict(figures.countries) == {"FR": 3, "DE": 1} and dict(figures.languages) == {"fr": 3, "en": 1}
    assert dict(figures.collections) == {"banner": 3, "form": 1} and figures.gpc == 1
    assert figures.chain_problems == []


def test_a_broken_chain_is_reported() -> None:
    broken = known_receipts()
    broken[3] = dataclasses.replace(broken[3], previous_receipt_sha256="b" * 64)
    figures = report.read_choices(broken, T_DAY - 86400, T_DAY + 86400 * 3, now=T_DAY + 86400 * 4)
    assert figures.chain_problems == ["r4 does not name the receipt before it"]


def test_the_edge_figures_and_what_could_not_be_read() -> None:
    seen, unreadable = report.read_edge(EDGE_LOG, T_DAY - 5 * 86400, T_DAY + 5 * 86400)
    assert (seen.lines, unreadable) == (3, 1)
    assert seen.page_views == 140 and seen.no_choice == 100  # absent and outdated: the banner is shown
    assert seen.views_by_step(report.DAY) == ([T_DAY], {"valid": [40], "no_choice": [100]})
    assert dict(seen.failures) == {("us-east-1", "origin-response"): 2}
    assert dict(seen.cookies["_ga"].actions) == {"stripped": 12, "deleted": 2}
    assert (seen.cookies["_ga"].first, seen.cookies["_ga"].last) == (T_DAY + 36000, T_DAY + 36120)


def test_the_inventory_puts_what_the_notice_forgets_first() -> None:
    loaded = policy.load_policy(project.policy())
    config = config_from_dict(policy.compile_policy(loaded, policy.load_keys(None)))
    seen, _ = report.read_edge(EDGE_LOG, T_DAY - 86400, T_DAY + 86400)
    catalogue = {cookie.name: cookie.category for cookie in loaded.cookies}
    rows = report.inventory(seen, config, list(catalogue))
    assert [(r.name, r.known) for r in rows] == [("_hjid", False), ("_ttp", False), ("_ga", True), ("csrftoken", True)]
    hjid = rows[0]
    assert hjid.closest is not None and hjid.closest.startswith("_hj")  # Hotjar's, in the catalogue
    snippet = report.policy_snippet(hjid, catalogue)
    assert snippet.splitlines()[:2] == ['  - name: "_hjid"', f"    category: {catalogue[hjid.closest]}"]


def table_row(page: str, label: str) -> list[str]:
    """The cells of the row whose header is `label`, as text."""
    match = re.search(rf"<tr><th scope=\"row\">{re.escape(html.escape(label))}</th>(.*?)</tr>", page)
    assert match, label
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", match.group(1))]


def test_the_page_from_an_export_and_a_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "receipts.jsonl"
    export.write_text("".join(json.dumps(r.public()) + "\n" for r in known_receipts()) + "not json\n")
    log = tmp_path / "edge.log"
    log.write_text("\n".join(EDGE_LOG) + "\n")
    out = tmp_path / "report.html"
    args = ["report", "--receipts-export", str(export), "--edge-log", str(log), "--edge-log", str(tmp_path / "gone")]
    status = cli.main([*args, "--since", SINCE, "--until", UNTIL, "--lang", "en", "-o", str(out)])
    printed = capsys.readouterr()
    assert status == 0, printed
    page = out.read_text(encoding="utf-8")
    assert table_row(page, "Page views with no choice (banner shown)") == ["100"]
    assert table_row(page, "Choices recorded") == ["3"]
    assert table_row(page, "Choices per 100 page views with no choice") == ["3.0%"]
    assert table_row(page, "Audience measurement") == ["66.7%"]
    assert table_row(page, DAY) == ["2", "1", "0", "0"]
    # What could not be read is on the page and on stderr, and the rest is reported
    for problem in ("1 lines are not receipts", "gone", "1 edge_counts lines could not be read"):
        assert problem in page and problem in printed.err
    assert '- name: "_ttp"' in html.unescape(page)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edge.log", "receipts.jsonl", "report.html"]  # no leftover


def test_the_french_page_writes_numbers_as_french_does(tmp_path: Path) -> None:
    export = tmp_path / "receipts.jsonl"
    export.write_text("".join(json.dumps(r.public()) + "\n" for r in known_receipts()))
    log = tmp_path / "edge.log"
    log.write_text("\n".join([*EDGE_LOG, edge_line("viewer-request", "eu-west-3", T_DAY, views={"absent": 1200})]))
    out = tmp_path / "rapport.html"
    args = ["report", "--receipts-export", str(export), "--edge-log", str(log), "-o", str(out)]
    assert cli.main([*args, "--since", SINCE, "--until", UNTIL]) == 0
    page = out.read_text(encoding="utf-8")
    assert table_row(page, "Pages vues sans choix (bannière affichée)") == ["1\u202f300"]
    assert table_row(page, "Mesure d'audience")[0].startswith("66,7\u202f%")
    assert table_row(page, "tout refuser")[0] == "1"


def test_no_receipts_and_no_log_still_write_a_page(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    empty = tmp_path / "none.jsonl"
    empty.write_text("")
    assert cli.main(["report", "--receipts-export", str(empty), "-o", str(out), "--lang", "fr"]) == 0
    page = out.read_text(encoding="utf-8")
    assert '<html lang="fr">' in page and "Rien sur cette période." in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is neither"),
        (["--since", UNTIL, "--until", SINCE], "before"),
    ],
)
def test_bad_periods_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    empty = tmp_path / "none.jsonl"
    empty.write_text("")
    assert cli.main(["report", "--receipts-export", str(empty), "-o", str(tmp_path / "r.html"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    ("times", "step"),
    [
        ([T_DAY, T_DAY + 3 * 86400], 86400),  # days apart: a point a day
        ([T_DAY + 3600, T_DAY + 5 * 3600], 3600),  # one day: a point an hour
        ([T_DAY + 60, T_DAY + 200], 60),  # minutes: a point a minute
        ([T_DAY + 10, T_DAY + 20], 60),  # within a minute: no line to draw, the minute still
        ([], 86400),
    ],
)
def test_a_chart_has_the_longest_step_that_gives_it_two_points(times: list[float], step: int) -> None:
    assert report.bucket(times) == step


def test_the_edge_counts_are_read_from_every_regions_log_groups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replicas' lines where they ran (Paris, Frankfurt), found by the stack's function names."""
    import boto3
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    names = {"ViewerRequestVersion": "edge-ViewerRequest-A1", "ViewerResponseVersion": "edge-ViewerResponse-B2",
             "OriginResponseVersion": "edge-OriginResponse-C3", "StaticResponseVersion": "edge-Static-D4",
             "ConsentApiVersion": "edge-ConsentApi-E5"}  # fmt: skip
    outputs = tmp_path / "outputs.json"
    arn = "arn:aws:lambda:us-east-1:123456789012:function:{}:3"
    outputs.write_text(json.dumps({key: arn.format(name) for key, name in names.items()}))
    frankfurt = edge_line("origin-response", "eu-central-1", T_DAY + 36120, failures=2)
    with mock_aws():
        for region, output, line in (
            ("eu-west-3", "ViewerRequestVersion", EDGE_LOG[0]),
            ("eu-central-1", "OriginResponseVersion", frankfurt),
        ):
            logs = boto3.client("logs", region_name=region)
            group = f"/aws/lambda/us-east-1.{names[output]}"
            logs.create_log_group(logGroupName=group)
            logs.create_log_stream(logGroupName=group, logStreamName="s")
            event = {"timestamp": int(json.loads(line)["since"] * 1000), "message": line}
            logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[event])
        empty = tmp_path / "none.jsonl"
        empty.write_text("")
        out = tmp_path / "report.html"
        args = ["report", "--receipts-export", str(empty), "--stack-outputs", str(outputs), "--lang", "en"]
        status = cli.main([*args, "--since", SINCE, "--until", UNTIL, "-o", str(out)])
    assert status == 0, capsys.readouterr()
    page = out.read_text(encoding="utf-8")
    assert table_row(page, "Page views with no choice (banner shown)") == ["100"]
    assert "2 edge_counts lines" in capsys.readouterr().out
    assert re.search(r"<th scope=\"row\">eu-central-1</th><td>origin-response</td><td class=\"n\">2</td>", page)


def test_with_the_keys_every_seal_is_checked(tmp_path: Path) -> None:
    """Receipts no consent endpoint sealed (these fixtures) are named when the keys are given, as `receipts verify`."""
    export = tmp_path / "receipts.jsonl"
    export.write_text("".join(json.dumps(r.public()) + "\n" for r in known_receipts()))
    out = tmp_path / "report.html"
    args = ["report", "--receipts-export", str(export), "--since", SINCE, "--until", UNTIL, "--lang", "en"]
    assert cli.main([*args, "-o", str(out)]) == 0
    assert "Every evidence chain is intact." in out.read_text(encoding="utf-8")
    keys = str(policy.DEVELOPMENT_KEYS_PATH)
    assert cli.main([*args, "--keys", keys, "-o", str(out)]) == 0
    page = html.unescape(out.read_text(encoding="utf-8"))
    assert "Every evidence chain is intact." not in page
    assert re.search(r"<li>r1: [^<]*seal", page), page[-1500:]
