"""What the consent endpoint tells its operators: structured logs, and metrics in CloudWatch's embedded format.

Every log line and metric the endpoint emits is named here, so that what a dashboard or an
alarm reads has one place to look.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="edge-consent")
metrics = Metrics(namespace="EdgeConsent", service="consent-api")


def choice_recorded(receipt_id: str, event: str, action: str, granted: tuple[str, ...], seconds: float) -> None:
    """A choice stored: how long the write took, the choice, and each category granted."""
    metrics.add_metric(name="ReceiptWriteLatency", unit=MetricUnit.Milliseconds, value=seconds * 1000)
    metrics.add_metric(name=f"Choice_{action}", unit=MetricUnit.Count, value=1)
    for category in granted:
        metrics.add_metric(name=f"Granted_{category}", unit=MetricUnit.Count, value=1)
    logger.info("choice_recorded", extra={"receipt_id": receipt_id, "event": event, "method": action})


def receipt_write_failed(reason: str) -> None:
    """The store refused or timed out: the visitor is told to retry, and nothing was set."""
    metrics.add_metric(name="ReceiptWriteFailures", unit=MetricUnit.Count, value=1)
    logger.warning("receipt_write_failed", extra={"reason": reason})


def banner_version_mismatch(configured: str, made: str) -> None:
    """viewer-request names a banner script this function does not make: a build out of step."""
    logger.warning("banner_version_mismatch", extra={"configured": configured, "made": made})


def receipts_withheld(problems: list[str]) -> None:
    """Receipts the seals do not vouch for, left out of a visitor's list."""
    logger.warning("receipts_withheld", extra={"problems": problems})


def handler_error(error: str) -> None:
    logger.error("handler_error", extra={"error": error})
