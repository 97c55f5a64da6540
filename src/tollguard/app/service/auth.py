"""API tokens and roles.

A token is 32 random bytes, shown once when created; the store keeps only its SHA-256 (a token
carries 256 bits of entropy, so a fast hash is enough: there is nothing to brute-force, unlike a
password). Roles, from least to most trusted:

- ``switch``: authorization requests and call/SIP events, nothing else;
- ``analyst``: reads everything, changes controls and cases;
- ``admin``: also tokens, subscribers and the restricted destination list.

Switches may send the token as ``Authorization: Bearer TOKEN`` or as the password of HTTP Basic
authentication (what Kamailio's ``http_client`` can put in a connection URL).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

TOKEN_PREFIX = "tg_"


class Role(StrEnum):
    """What a token may do."""

    SWITCH = "switch"
    ANALYST = "analyst"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id, name and role."""

    token_id: int
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"{self.role.value}:{self.name}"


def new_token() -> str:
    """A fresh random token (``tg_`` and 43 URL-safe characters)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_from_header(authorization: str | None) -> str | None:
    """The token in an ``Authorization`` header (Bearer, or Basic with the token as password)."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer":
        return value or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, sep, password = decoded.partition(":")
        return password if sep and password else None
    return None


class TokenTable:
    """Tokens in force, by hash, for constant-time lookups on every request."""

    def __init__(self, entries: dict[str, tuple[int, str, str]] | None = None) -> None:
        self._by_hash: dict[str, Principal] = {}
        self.replace(entries or {})

    def replace(self, entries: dict[str, tuple[int, str, str]]) -> None:
        """Swap in a fresh table (hash -> (id, name, role))."""
        self._by_hash = {h: Principal(i, n, Role(r)) for h, (i, n, r) in entries.items()}

    def principal(self, token: str | None) -> Principal | None:
        """Who holds ``token``, or ``None`` for an unknown or revoked one."""
        if not token:
            return None
        # Looked up by the token's hash: timing reveals nothing about stored tokens.
        return self._by_hash.get(token_hash(token))

    def __len__(self) -> int:
        return len(self._by_hash)
