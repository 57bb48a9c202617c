"""Payment states (DESIGN.md section 6): ``pending -> succeeded | failed``, ``succeeded -> refunded``.

No other transition: a late ``failed`` never downgrades ``succeeded``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


PAYMENT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    PaymentStatus.PENDING: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED}),
    PaymentStatus.SUCCEEDED: frozenset({PaymentStatus.REFUNDED}),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.REFUNDED: frozenset(),
}
