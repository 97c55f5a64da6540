"""Logins, sessions, CSRF tokens and login rate limits for the console and the portal.

- **Passwords** are hashed with argon2id (``argon2-cffi``'s defaults: 3 passes over 64 MiB, 4
  lanes); a login for an unknown username still verifies against a dummy hash, so the answer
  takes as long whether or not the username exists.
- **Sessions** live in the service's memory, keyed by a 256-bit random id carried in a cookie
  that is ``HttpOnly``, ``SameSite=Strict`` and (unless turned off for plain-HTTP tests)
  ``Secure`` with the ``__Host-`` prefix. A new id is issued at login (no fixation); sessions
  end at logout, after ``session_idle_s`` without a request, and after ``session_max_s``. A
  restart of the service logs everybody out.
- **CSRF**: every session, anonymous ones included (the login form), has a random token that
  every form carries and every POST must present; a POST whose ``Origin`` names another site is
  refused as well.
- **Rate limits**: a username is locked for ``login_lock_s`` after ``login_max_failures``
  failures in a row (kept in the store, audited); a client address that fails
  ``client_max_failures`` times within ``login_lock_s`` is refused until its failures age out.
  Unknown usernames are counted like known ones (in memory), so locks reveal nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (an encoded string with its salt and parameters)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches ``stored_hash`` (``None``: an unknown user, always False,
    after the same work as a real check)."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when a hash was made with weaker parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def credential_tag(user_id: int, password_hash: str, disabled: bool) -> str:
    """What a session remembers of its user's login: it ends when this changes (password
    changed, login disabled or removed)."""
    text = f"{user_id}:{password_hash}:{disabled}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# -- sessions -------------------------------------------------------------------------------------
@dataclass(slots=True)
class Session:
    """One browser's session: anonymous until a login puts a user in it."""

    csrf: str
    created: float
    last_seen: float
    user_id: int | None = None
    username: str = ""
    role: str = ""
    subscriber_id: str | None = None
    credential: str = ""
    locale: str | None = None
    flashes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def actor(self) -> str:
        """How the audit log names this person (``analyst:alice``, ``customer:c123``)."""
        return f"{self.role}:{self.username}"

    def csrf_ok(self, presented: str | None) -> bool:
        """Whether a form presented this session's CSRF token (constant-time comparison)."""
        return bool(presented) and hmac.compare_digest(self.csrf, presented or "")

    def flash(self, kind: str, message: str) -> None:
        """A message shown on the next page (``ok`` or ``error``)."""
        self.flashes.append((kind, message))

    def take_flashes(self) -> list[tuple[str, str]]:
        """The messages waiting, once."""
        out, self.flashes = self.flashes, []
        return out


class SessionStore:
    """Sessions in memory, by the SHA-256 of their id (the id itself is only in the cookie)."""

    def __init__(
        self,
        *,
        idle_s: float = 1800.0,
        max_s: float = 12 * 3600.0,
        clock: Callable[[], float] = time.time,
        limit: int = 50_000,
    ) -> None:
        self.idle_s = idle_s
        self.max_s = max_s
        self.clock = clock
        self.limit = limit
        self._by_key: dict[str, Session] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(session_id: str) -> str:
        return hashlib.sha256(session_id.encode("utf-8")).hexdigest()

    def new(self) -> tuple[str, Session]:
        """A fresh anonymous session: (cookie value, session)."""
        now = self.clock()
        sid = secrets.token_urlsafe(32)
        session = Session(csrf=secrets.token_urlsafe(32), created=now, last_seen=now)
        with self._lock:
            if len(self._by_key) >= self.limit:
                self._expire(now)
                if len(self._by_key) >= self.limit:  # a flood of anonymous sessions: drop oldest
                    oldest = min(self._by_key, key=lambda k: self._by_key[k].last_seen)
                    del self._by_key[oldest]
            self._by_key[self._key(sid)] = session
        return sid, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session for a cookie value, or ``None`` (unknown, idle or too old)."""
        if not session_id or len(session_id) > 128:
            return None
        now = self.clock()
        key = self._key(session_id)
        with self._lock:
            session = self._by_key.get(key)
            if session is None:
                return None
            if now - session.last_seen > self.idle_s or now - session.created > self.max_s:
                del self._by_key[key]
                return None
            session.last_seen = now
            return session

    def rotate(self, session_id: str | None) -> tuple[str, Session]:
        """End ``session_id`` and start a new session (at login): a new id and CSRF token."""
        self.drop(session_id)
        return self.new()

    def drop(self, session_id: str | None) -> None:
        """End a session (logout)."""
        if session_id:
            with self._lock:
                self._by_key.pop(self._key(session_id), None)

    def drop_user(self, user_id: int) -> int:
        """End every session of a user (password changed, login disabled); returns how many."""
        with self._lock:
            keys = [k for k, s in self._by_key.items() if s.user_id == user_id]
            for k in keys:
                del self._by_key[k]
        return len(keys)

    def _expire(self, now: float) -> None:
        dead = [
            k
            for k, s in self._by_key.items()
            if now - s.last_seen > self.idle_s or now - s.created > self.max_s
        ]
        for k in dead:
            del self._by_key[k]

    def __len__(self) -> int:
        return len(self._by_key)


# -- login rate limits ----------------------------------------------------------------------------
class LoginLimiter:
    """Failed logins by client address, and by username for usernames the store does not know.

    A key is refused while it has ``max_failures`` failures within the last ``window_s`` seconds.
    """

    def __init__(
        self, max_failures: int, window_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def blocked(self, key: str) -> bool:
        """Whether ``key`` is refused now."""
        with self._lock:
            times = self._recent(key, self.clock())
            return times is not None and len(times) >= self.max_failures

    def fail(self, key: str) -> bool:
        """Count a failure; True if ``key`` is now refused."""
        now = self.clock()
        with self._lock:
            times = self._recent(key, now)
            if times is None:
                times = self._failures[key] = deque(maxlen=self.max_failures * 4)
            times.append(now)
            if len(self._failures) > 100_000:  # bounded memory under a distributed flood
                for k in list(self._failures)[:10_000]:
                    del self._failures[k]
            return len(times) >= self.max_failures

    def clear(self, key: str) -> None:
        """Forget a key's failures (after a successful login)."""
        with self._lock:
            self._failures.pop(key, None)
