"""Domain errors. Each has a stable ``code`` and HTTP ``status``; ``api/problems.py`` maps them,
once, to RFC 9457 problem details (DESIGN.md section 5)."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error meant for the user. ``field`` names the offending input, if any."""

    code = "error"
    status = 400
    title = "Request failed"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class ValidationProblem(DomainError):
    """Input that is well-formed but breaks a rule (off the slot grid, in the past, ...)."""

    code = "validation_error"
    status = 422
    title = "Validation failed"


class NotFound(DomainError):
    code = "not_found"
    status = 404
    title = "Not found"


class SlotUnavailable(DomainError):
    """A requested slot is held or booked by someone else (seed error rule 1)."""

    code = "slot_unavailable"
    status = 409
    title = "Slot unavailable"


class InvalidState(DomainError):
    """The booking or payment is not in a state that allows the action."""

    code = "invalid_state"
    status = 409
    title = "Invalid state"


class ProviderError(DomainError):
    """The payment provider did not answer or answered with an error (DESIGN.md section 5)."""

    code = "provider_error"
    status = 502
    title = "Payment provider error"


class BadSignature(DomainError):
    """A webhook's signature is missing, wrong, or its timestamp is more than 300 s off."""

    code = "bad_signature"
    status = 400
    title = "Bad webhook signature"


class InvalidPayload(DomainError):
    """A verified webhook whose body cannot be understood."""

    code = "invalid_payload"
    status = 400
    title = "Invalid webhook payload"


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    title = "Forbidden"


class IdempotencyConflict(DomainError):
    code = "idempotency_conflict"
    status = 422
    title = "Idempotency key reused with a different body"


class IdempotencyInProgress(DomainError):
    code = "idempotency_in_progress"
    status = 409
    title = "A request with this idempotency key is still in progress"


class InvalidJson(DomainError):
    """A request body that is not JSON at all (the seed's "HTTP 400")."""

    code = "invalid_json"
    status = 400
    title = "Body is not valid JSON"


class Unauthorized(DomainError):
    """No valid session or API token for a staff route."""

    code = "unauthorized"
    status = 401
    title = "Authentication required"


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 401
    title = "Wrong username or password"


class AccountLocked(DomainError):
    """Too many failed logins in a row: the account is locked for a while."""

    code = "account_locked"
    status = 429
    title = "Account temporarily locked"
