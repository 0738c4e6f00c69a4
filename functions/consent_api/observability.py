"""What the consent endpoint tells its operators: structured logs, and metrics in CloudWatch's embedded format.

Every log line and metric the endpoint emits is named here, so that what a dashboard or an
alarm reads has one place to look.

Powertools' logger and metrics are made by the first line or metric a container emits:
importing powertools costs a cold start more than the rest of a `GET /consent` (its
package imports its logger, which imports jmespath), and a page or the banner has nothing
to say (docs/benchmarks.md). The handler calls `flush` after every request, as powertools'
`log_metrics` would, once a request has added a metric.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

_pending = False  # a metric was added since the last flush


@functools.cache
def logger() -> Logger:
    from aws_lambda_powertools import Logger

    return Logger(service="edge-consent")


@functools.cache
def _metrics() -> Metrics:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace="EdgeConsent", service="consent-api")


def _metric(name: str, unit: str, value: float) -> None:
    global _pending
    _metrics().add_metric(name=name, unit=unit, value=value)
    _pending = True


def flush() -> None:
    """This request's metrics as one embedded-metric-format line, if it added any."""
    global _pending
    if _pending:
        _pending = False
        _metrics().flush_metrics()


def choice_recorded(receipt_id: str, event: str, action: str, granted: tuple[str, ...], seconds: float) -> None:
    """A choice stored: how long the write took, the choice, and each category granted."""
    _metric("ReceiptWriteLatency", "Milliseconds", seconds * 1000)
    _metric(f"Choice_{action}", "Count", 1)
    for category in granted:
        _metric(f"Granted_{category}", "Count", 1)
    logger().info("choice_recorded", extra={"receipt_id": receipt_id, "event": event, "method": action})


def receipt_write_failed(reason: str) -> None:
    """The store refused or timed out: the visitor is told to retry, and nothing was set."""
    _metric("ReceiptWriteFailures", "Count", 1)
    logger().warning("receipt_write_failed", extra={"reason": reason})


def banner_version_mismatch(configured: str, made: str) -> None:
    """viewer-request names a banner script this function does not make: a build out of step."""
    logger().warning("banner_version_mismatch", extra={"configured": configured, "made": made})


def receipts_withheld(problems: list[str]) -> None:
    """Receipts the seals do not vouch for, left out of a visitor's list."""
    logger().warning("receipts_withheld", extra={"problems": problems})


def handler_error(error: str) -> None:
    logger().error("handler_error", extra={"error": error})
