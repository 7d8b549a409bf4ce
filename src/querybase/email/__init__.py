"""Outgoing mail: `send_mail` and its errors for every feature that emails someone (invitations, password
resets, subscriptions, alerts); `messages` builds the mails users get."""

from querybase.email.smtp import EmailNotConfigured, MailError, SmtpConfig, send_mail

__all__ = ["EmailNotConfigured", "MailError", "SmtpConfig", "send_mail"]
