"""Mail channels of the Notification Service: the ``Mailer`` interface and the file backend.

The file backend writes one RFC 5322 ``.eml`` file per message into a folder (by default
``{data_dir}/mail``, DESIGN.md section 9). An SMTP backend implements the same ``Mailer``.
"""

from __future__ import annotations

import os
import re
import tempfile
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol


class Mailer(Protocol):
    """Sends a complete message (headers ``From``, ``To``, ``Subject``, ``Message-ID`` set).

    ``backend`` names the channel for the notifications log (``"file"``, ``"smtp"``). ``send``
    raises on failure (the delivery is then redelivered); sending a message with the same
    ``Message-ID`` again must be harmless to the receiver (at-least-once).
    """

    backend: str

    def send(self, message: EmailMessage) -> None: ...


class FileMailer:
    """Writes each message to ``{folder}/{message id}.eml`` (CRLF line ends, RFC 5322).

    The file name comes from the ``Message-ID``, so a redelivered event overwrites its file
    instead of adding a second. The file appears whole (written to a temporary file, then
    renamed). Raises ``ValueError`` for a message without a ``Message-ID`` and ``OSError`` if
    the folder cannot be written.
    """

    backend = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path_for(self, message_id: str) -> Path:
        """The file a message with ``message_id`` is written to."""
        name = re.sub(r"[^A-Za-z0-9._@-]", "_", message_id.strip().strip("<>"))
        return self.folder / f"{name}.eml"

    def send(self, message: EmailMessage) -> None:
        message_id = message["Message-ID"]
        if not message_id:
            raise ValueError("a message needs a Message-ID to be written to a file")
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.path_for(str(message_id))
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(message.as_bytes(policy=policy.SMTP))
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
