"""One supervised mailbox task per ``email`` source, started with the daemon's other tasks.

The settings name the mailbox (``[sources.<name>]`` with ``kind = "email"``);
the task is ``mailbox:<name>`` in the daemon's TaskGroup, so it is cancelled
(and its connection dropped) on shutdown. Each message is filed through the
seam ``filer_for`` gives, and is durable before it leaves the folder; one that
cannot be filed is kept through ``quarantine_for`` (the quarantine table, which
turns /health to warn, and the metric ``callbridge_events_quarantined_total{reason="mail"}``).
"""

from __future__ import annotations

import structlog
from aiohttp import web

from config.settings import Settings
from daemon.domain.inquiry import Inquiry
from daemon.inquiries.imap import Endpoint
from daemon.inquiries.mailbox import FileInquiry, MailboxConfig, MailboxPoller, QuarantineMail
from daemon.intake.quarantine import quarantine
from daemon.intake.submit import submit
from daemon.runtime.keys import INTAKE, METRICS, REPOSITORY, TASKS

log = structlog.get_logger(__name__)

DEFAULT_DONE_FOLDER = "Processed"


def mailbox_configs(settings: Settings) -> list[MailboxConfig]:
    """A poller's configuration for each ``email`` source in the settings."""
    own = tuple(a.strip().lower() for a in settings.inquiries.agency_emails)
    configs = []
    for name, source in sorted(settings.inquiries.sources.items()):
        if source.kind != "email":
            continue
        username = source.username or ""
        endpoint = Endpoint(
            host=source.imap_host or "", port=source.imap_port, security=source.imap_security,
            username=username, password=source.password.get_secret_value() if source.password else "",
            timeout_s=source.imap_timeout_s,
        )
        # The mailbox's own address is the agency's too: mail from it is the agency writing.
        mailbox_address = (username.lower(),) if "@" in username else ()
        configs.append(MailboxConfig(
            source=name, endpoint=endpoint, folder=source.folder,
            done_folder=source.done_folder or DEFAULT_DONE_FOLDER, skipped_folder=source.skipped_folder,
            quarantine_folder=source.quarantine_folder,
            own_addresses=own + mailbox_address, poll_interval_s=source.poll_interval_s,
        ))
    return configs


def filer_for(app: web.Application, *, folder: str) -> FileInquiry:
    """File through the intake, exactly as a web form's inquiry: the inquiry pipeline
    (contact, lead, communication) in PostgreSQL, or the local spool while it is away.

    ``StorageUnavailable`` (neither could keep it) and ``EventNotStorable``
    propagate: the poller leaves the message in the folder and tries again later.
    """

    async def file(inquiry: Inquiry, raw: bytes) -> str:
        return await submit(app[INTAKE], inquiry, path=f"imap/{folder}", raw=raw)

    return file


def quarantine_for(app: web.Application) -> QuarantineMail:
    """Keep the raw message in the quarantine table, as the spool's refused events are kept."""

    async def keep(raw: bytes, reason: str, dedup_key: str | None) -> None:
        await quarantine(app[REPOSITORY], raw, reason=reason, dedup_key=dedup_key)
        metrics = app.get(METRICS)
        if metrics is not None:
            metrics.events_quarantined.labels("mail").inc()

    return keep


def start_mailboxes(app: web.Application, settings: Settings) -> list[str]:
    """Start a ``mailbox:<source>`` task per e-mail source; returns the task names."""
    return [_start(app, config) for config in mailbox_configs(settings)]


def _start(app: web.Application, config: MailboxConfig) -> str:
    poller = MailboxPoller(config, filer_for(app, folder=config.folder), quarantine=quarantine_for(app))
    name = f"mailbox:{config.source}"
    # A factory: were the task ever to die, the group makes it again (daemon.runtime.tasks).
    app[TASKS].start(name, poller.run_forever)
    log.info("mailbox_task_started", source=config.source, host=config.endpoint.host,
             folder=config.folder, done_folder=config.done_folder)
    return name


async def reload_mailboxes(app: web.Application, old: Settings, new: Settings) -> None:
    """SIGHUP: a mailbox added, removed or changed in the settings is started, stopped or
    restarted with its new settings; the others keep their connection."""
    before = {c.source: c for c in mailbox_configs(old)}
    after = {c.source: c for c in mailbox_configs(new)}
    for source, config in before.items():
        if after.get(source) != config:
            await app[TASKS].cancel(f"mailbox:{source}")
            log.info("mailbox_task_stopped", source=source, reason="settings reloaded")
    for source, config in after.items():
        if before.get(source) != config:
            _start(app, config)
