"""``[sources.<name>]``: the senders of inquiries (issue 11). Minimal, for the e-mail channel.

The inquiry pipeline's own branch defines the full model (secrets, VK's
confirmation, UTM mapping); this file holds what the mailbox poller reads until
that lands, with the same names: kind, ad_source, imap_host, imap_port,
username, password, folder, done_folder, and the poller's own extras.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

SourceKind = Literal["tilda", "form", "jivo", "telegram", "vk", "email", "api"]


class SourceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SourceKind
    secret: SecretStr | None = None
    confirmation: str | None = None
    ad_source: str | None = None
    imap_host: str | None = None
    imap_port: int = Field(default=993, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    folder: str = "INBOX"
    done_folder: str | None = None
    # The e-mail poller's own (README "E-mail inquiries"): "tls" is TLS from the
    # first byte (port 993); "plain" only for a server on this machine or in tests.
    imap_security: Literal["tls", "plain"] = "tls"
    skipped_folder: str | None = None  # auto-replies and bounces; None: done_folder
    poll_interval_s: float = Field(default=60.0, gt=0)  # servers without IDLE
    imap_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> SourceSettings:
        if self.kind == "email" and not (self.imap_host and self.username and self.password):
            raise ValueError("an email source needs imap_host, username and password")
        return self
