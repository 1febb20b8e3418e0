"""E-mail through the SMTP server of the ``[mail]`` settings: plain, STARTTLS or implicit TLS, with a login.

The password comes from ``mail_password_file`` (first line; the file must be 0600 or narrower), never from a
command line or the environment. STARTTLS and TLS verify the server's certificate against the system's
authorities, or ``cafile`` when one is given (a test's own authority, a company's internal one).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sudoless.config import Settings, read_secret_file
from sudoless.errors import ConfigError

__all__ = ["MailServer", "compose"]

_DEFAULT_PORTS = {"plain": 25, "starttls": 587, "tls": 465}


@dataclass(frozen=True)
class MailServer:
    """Where and how to send: ``security`` is ``plain``, ``starttls`` or ``tls``."""

    host: str
    port: int
    security: str = "starttls"
    user: str = ""
    password_file: str = ""
    sender: str = ""
    timeout: float = 20.0
    cafile: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, cafile: str | None = None) -> MailServer:
        return cls(
            settings.mail_host,
            settings.mail_port or _DEFAULT_PORTS[settings.mail_security],
            settings.mail_security,
            settings.mail_user,
            settings.mail_password_file,
            settings.mail_from,
            settings.mail_timeout,
            cafile,
        )

    @property
    def configured(self) -> bool:
        return bool(self.host)

    def send(self, message: EmailMessage) -> None:
        """Send ``message`` (its From is set to ``sender`` when missing). ConfigError when no server is
        configured or the password file is unusable; smtplib.SMTPException or OSError when sending fails."""
        if not self.host:
            raise ConfigError(
                "no SMTP server configured; set host in the [mail] table of config.toml (SUDOLESS_MAIL_HOST)"
            )
        if "From" not in message:
            if not self.sender:
                raise ConfigError("no sender address; set from in the [mail] table of config.toml (SUDOLESS_MAIL_FROM)")
            message["From"] = self.sender
        password = (
            read_secret_file(self.password_file, "[mail] password_file", "SMTP password")
            if self.user and self.password_file
            else None
        )
        context = ssl.create_default_context(cafile=self.cafile) if self.security != "plain" else None
        if self.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if self.user:
                if password is None:
                    raise ConfigError(
                        "[mail] user is set but password_file is not; give a file whose first line is the SMTP password"
                    )
                client.login(self.user, password)
            client.send_message(message)


def compose(recipients: Sequence[str], subject: str, text: str, html: str | None, sender: str = "") -> EmailMessage:
    """A message with a plain-text body and, when given, an HTML alternative."""
    message = EmailMessage()
    if sender:
        message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="sudoless")
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message
