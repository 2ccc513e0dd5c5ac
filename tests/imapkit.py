"""A real IMAP server for the tests: Dovecot from Debian's packages, throw-away configuration.

Everything lives in one temp directory: configuration, a self-signed
certificate made by ``openssl`` for 127.0.0.1, a passwd-file with plain-text
passwords (one file per user, ``users/<name>``, so accounts can be added while
it runs), and the maildirs. Two ports of its own: plain IMAP and IMAPS.
Run as root (CI), mail is owned by ``nobody``; otherwise Dovecot runs as the
current user.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aioimaplib  # type: ignore[import-untyped]

from daemon.inquiries.imap import quote_mailbox
from tests.support.net import free_port

START_TIMEOUT_S = 20.0


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None)


@dataclass(frozen=True)
class Account:
    username: str
    password: str


class Dovecot:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.plain_port = free_port()
        self.tls_port = free_port()
        self.cert = root / "cert.pem"
        self.users = root / "users"
        self.log = root / "dovecot.log"
        self.conf = root / "dovecot.conf"
        self.process: subprocess.Popen[bytes] | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly this server's certificate."""
        return ssl.create_default_context(cafile=str(self.cert))

    def add_account(self) -> Account:
        account = Account(f"u{secrets.token_hex(5)}", secrets.token_urlsafe(12))
        (self.users / account.username).write_text(f"{account.username}:{{PLAIN}}{account.password}::::::\n")
        return account

    def start(self, binary: str) -> None:
        root = self.root
        (root / "run").mkdir()
        mail = root / "mail"
        mail.mkdir()
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-keyout", str(root / "key.pem"), "-out", str(self.cert), "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True,
        )
        self.users.mkdir()
        if os.geteuid() == 0:
            # Dovecot will not give mail to root: the maildirs belong to nobody,
            # its login and internal processes run as the package's own users.
            root.chmod(0o755)
            shutil.chown(mail, "nobody", "nogroup")
            users = "default_login_user = dovenull\ndefault_internal_user = dovecot\n"
            mail_user = "uid=nobody gid=nogroup"
        else:
            me = getpass.getuser()
            users = f"default_login_user = {me}\ndefault_internal_user = {me}\n"
            mail_user = f"uid={os.getuid()} gid={os.getgid()}"
        (root / "key.pem").chmod(0o644)
        self.conf.write_text(f"""
base_dir = {root}/run
state_dir = {root}/run/state
instance_name = callbridge-test-{self.plain_port}
protocols = imap
listen = 127.0.0.1
log_path = {self.log}
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{mail}/%u
first_valid_uid = 1
{users}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.users}/%u
}}
userdb {{
  driver = static
  args = {mail_user} home={mail}/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {self.plain_port}
  }}
  inet_listener imaps {{
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""")
        self.process = subprocess.Popen([binary, "-F", "-c", str(self.conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.process.stderr.read().decode()[-2000:]}"  # type: ignore[union-attr]
                                   f" {self.log.read_text()[-2000:] if self.log.exists() else ''}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.plain_port), 0.5):
                return
            time.sleep(0.1)
        raise RuntimeError("dovecot did not start listening")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if self.process.stderr is not None:
            self.process.stderr.close()


@contextlib.contextmanager
def running_dovecot(binary: str) -> Iterator[Dovecot]:
    with tempfile.TemporaryDirectory(prefix="callbridge-test-imap-") as tmp:
        server = Dovecot(Path(tmp))
        try:
            server.start(binary)
            yield server
        finally:
            server.stop()


# -- a client for the tests' own look at the mailbox ---------------------------------
async def _session(server: Dovecot, account: Account):  # type: ignore[no-untyped-def]
    client = aioimaplib.IMAP4(host="127.0.0.1", port=server.plain_port, timeout=10)
    await client.wait_hello_from_server()
    response = await client.login(account.username, account.password)
    assert response.result == "OK", response
    return client


async def append(server: Dovecot, account: Account, messages: list[bytes], folder: str = "INBOX") -> None:
    """APPEND each message over IMAP, as a mail server's delivery would leave it."""
    client = await _session(server, account)
    try:
        for raw in messages:
            response = await client.append(raw, mailbox=quote_mailbox(folder))
            assert response.result == "OK", response
    finally:
        await client.logout()


async def messages_in(server: Dovecot, account: Account, folder: str) -> list[bytes]:
    """Every message in ``folder`` (none when it does not exist), oldest first."""
    client = await _session(server, account)
    try:
        selected = await client.select(quote_mailbox(folder))
        if selected.result != "OK":
            return []
        found = await client.fetch("1:*", "(BODY.PEEK[])")
        return [bytes(line) for line in found.lines if isinstance(line, bytearray)]
    finally:
        await client.logout()


def kick(server: Dovecot, account: Account) -> None:
    """Drop the account's connections, as a server restart or a network fault would."""
    subprocess.run(["doveadm", "-c", str(server.conf), "kick", account.username],
                   check=True, capture_output=True)
