"""Database URLs: which backend a URL names, and the URL as logs may show it (no password). Pure."""

from __future__ import annotations

import urllib.parse

SCHEMES = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql"}
SCHEMES["mariadb"] = "mysql"
SUPPORTED = "sqlite:///path.db, postgresql://user:password@host:5432/db or mysql://user:password@host:3306/db"


def backend_of(url: str) -> str | None:
    """ "sqlite" | "postgresql" | "mysql" (SQLAlchemy's `+driver` suffixes allowed), None for another."""
    return SCHEMES.get(url.split(":", 1)[0].split("+", 1)[0].lower())


def redact(url: str) -> str:
    """The URL with its password replaced by ***, for logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.username else ":***@"
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=user + host))


def scrub(text: str, secrets: set[str]) -> str:
    """Defence in depth (drivers do not echo passwords): a password "pass" must not eat "password"."""
    import re

    for secret in secrets:
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "***", text)
    return text
