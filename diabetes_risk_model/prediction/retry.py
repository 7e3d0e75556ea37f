"""Waiting for the store: bounded retries with capped exponential backoff and jitter.

rest_model_service builds models in a background thread, so the HTTP server already answers health probes
while we load. That is where waiting belongs: while the store is unreachable (:class:`StorageUnavailable`)
we retry, logging *waiting for storage* each time, at most ``attempts`` times. Anything else the store says
(access denied, missing bucket, missing object) will not change by waiting and is raised at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from diabetes_risk_model.errors import ConfigurationError, StorageUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for the store: ``attempts`` tries, each bounded by ``timeout`` seconds.

    Delays grow as ``backoff * 2**n`` up to ``backoff_max``, with +-25 % jitter so that
    replicas restarted together do not hammer MinIO in step.
    """

    attempts: int = 10
    timeout: float = 5.0
    backoff: float = 0.5
    backoff_max: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError("storage_attempts must be at least 1", setting="storage_attempts")
        if self.timeout <= 0 or self.backoff < 0 or self.backoff_max < 0:
            raise ConfigurationError("storage timeouts and backoff must be positive", setting="storage_timeout")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number *attempt* (1-based)."""
        base = min(self.backoff_max, self.backoff * (2 ** (attempt - 1)))
        return base * random.uniform(0.75, 1.25)  # jitter, not cryptography


def download_with_retries(
    fetch: Callable[[], Path],
    policy: RetryPolicy,
    where: str,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[], None] | None = None,
) -> Path:
    """Call *fetch* until it succeeds, retrying only :class:`StorageUnavailable`, at most ``policy.attempts`` times.

    *where* names the store for log lines (never a credential); *on_retry* is called before each retry
    (the storage retry counter).
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return fetch()
        except StorageUnavailable as exc:
            if attempt == policy.attempts:
                logger.error("storage at %s still unavailable after %d attempts, giving up: %s", where, attempt, exc)
                raise
            delay = policy.delay(attempt)
            logger.warning(
                "waiting for storage at %s (attempt %d/%d failed: %s); retrying in %.1fs",
                where,
                attempt,
                policy.attempts,
                exc,
                delay,
            )
            if on_retry is not None:
                on_retry()
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["RetryPolicy", "download_with_retries"]
