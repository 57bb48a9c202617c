"""The event envelope: CloudEvents 1.0 in structured JSON mode (DESIGN.md section 6)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SOURCE = "/booking-desk"


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """One event. ``time`` is aware UTC; ``data`` is the booking or payment as in the API plus
    ``resource_name``; ``subject`` is the booking id the event concerns."""

    id: str
    type: str
    time: datetime
    data: dict[str, Any] = field(default_factory=dict)
    subject: str | None = None
    source: str = SOURCE

    def to_dict(self) -> dict[str, Any]:
        """The structured CloudEvents JSON object."""
        body: dict[str, Any] = {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": self.data,
        }
        if self.subject:
            body["subject"] = self.subject
        return body

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> CloudEvent:
        """Parse structured CloudEvents JSON; raises ``ValueError`` if a required attribute is missing."""
        body = json.loads(raw)
        missing = [name for name in ("specversion", "id", "source", "type", "time") if name not in body]
        if missing:
            raise ValueError(f"not a CloudEvent: missing {', '.join(missing)}")
        return cls(
            id=body["id"],
            type=body["type"],
            time=datetime.fromisoformat(body["time"].replace("Z", "+00:00")),
            data=body.get("data") or {},
            subject=body.get("subject"),
            source=body["source"],
        )
