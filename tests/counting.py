"""Reading Gatehouse's metrics in the test process (gatehouse.metrics counts in-process there)."""

from __future__ import annotations

from gatehouse import metrics


def count(name: str, **labels: str) -> float:
    """The current value of the sample `name` with exactly `labels` (0 when not counted yet)."""
    metrics.flush_authz()
    return metrics.OWN.get_sample_value(name, labels) or 0.0
