"""Notice templates: what tollguard tells customers, in Japanese and English.

Five kinds (:data:`FIELDS`), each with a strict list of the fields its text may use:

* ``security_advice``: how to protect a PBX or IP phone (sent on request, e.g. after a scan);
* ``post_suspension``: the post-notification (事後連絡) after international calling was suspended;
* ``dormant_consent_request``: asking a customer who never calls abroad to agree to suspend it;
* ``service_restored``: international calling is available again;
* ``equipment_warning``: incidents concentrate on the customer's equipment model.

A template is a subject and a body with ``$field`` or ``${field}`` placeholders
(:class:`string.Template`; ``$$`` is a dollar sign). :func:`validate` refuses a template that uses
a field its kind does not provide or a malformed placeholder, so an admin's mistake is found when
the template is edited, never when a notice is due. The packaged defaults live in
``tollguard/data/notices/<locale>.toml``; a carrier's own versions are kept in the store
(``notice_templates``) and take precedence.

>>> t = default_template("service_restored", "en")
>>> subject, body = render(t, {"subscriber_id": "S1", "when": "2026-10-05 09:00 JST",
...                            "reason": "confirmed by the customer"})
>>> "S1" in body and "confirmed by the customer" in body
True
>>> try:
...     validate(NoticeTemplate("service_restored", "en", "Hello $name", "x"))
... except TemplateError as exc:
...     print(exc)
service_restored/en subject: unknown field $name (allowed: $reason, $subscriber_id, $when)
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Final

#: Fields each kind of notice may use.
FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "security_advice": ("subscriber_id",),
    "post_suspension": ("subscriber_id", "when", "reason"),
    "dormant_consent_request": ("subscriber_id", "months", "last_international"),
    "service_restored": ("subscriber_id", "when", "reason"),
    "equipment_warning": ("subscriber_id", "model", "firmware", "incidents", "since"),
}
KINDS: Final = tuple(FIELDS)
LOCALES: Final = ("ja", "en")
#: The locales of a customer notice, in order: Japanese first, then English, in one message.
CUSTOMER_LOCALES: Final = ("ja", "en")
#: Between the locales of one message.
SEPARATOR: Final = "\n\n----\n\n"
MAX_SUBJECT_CHARS: Final = 300
MAX_BODY_CHARS: Final = 20_000


class TemplateError(ValueError):
    """A template that cannot be used (unknown kind or locale, unknown field, bad placeholder)."""


@dataclass(frozen=True, slots=True)
class NoticeTemplate:
    """One kind of notice in one language."""

    kind: str
    locale: str
    subject: str
    body: str


def _check_text(label: str, text: str, allowed: tuple[str, ...]) -> None:
    tpl = Template(text)
    if not tpl.is_valid():
        raise TemplateError(
            f"{label}: a '$' must start a field ($name or ${{name}}) or be written $$"
        )
    unknown = sorted(set(tpl.get_identifiers()) - set(allowed))
    if unknown:
        names = ", ".join(f"${n}" for n in sorted(allowed))
        raise TemplateError(f"{label}: unknown field ${unknown[0]} (allowed: {names})")


def validate(template: NoticeTemplate) -> NoticeTemplate:
    """Return ``template`` if it can be rendered, else raise :class:`TemplateError`."""
    allowed = FIELDS.get(template.kind)
    if allowed is None:
        raise TemplateError(f"unknown notice kind {template.kind!r} (one of {', '.join(KINDS)})")
    if template.locale not in LOCALES:
        raise TemplateError(f"unknown locale {template.locale!r} (one of {', '.join(LOCALES)})")
    label = f"{template.kind}/{template.locale}"
    subject = template.subject
    if not subject.strip() or "\n" in subject or "\r" in subject:
        raise TemplateError(f"{label} subject: one non-empty line")
    if len(subject) > MAX_SUBJECT_CHARS:
        raise TemplateError(f"{label} subject: longer than {MAX_SUBJECT_CHARS} characters")
    if not template.body.strip():
        raise TemplateError(f"{label} body: empty")
    if len(template.body) > MAX_BODY_CHARS:
        raise TemplateError(f"{label} body: longer than {MAX_BODY_CHARS} characters")
    _check_text(f"{label} subject", subject, allowed)
    _check_text(f"{label} body", template.body, allowed)
    return template


def render(template: NoticeTemplate, values: Mapping[str, object]) -> tuple[str, str]:
    """Subject and body with the fields filled in. ``values`` must give every field of the kind
    (and no other): a caller's omission is a bug, reported as :class:`TemplateError`."""
    validate(template)
    allowed = FIELDS[template.kind]
    missing = [f for f in allowed if f not in values]
    extra = sorted(set(values) - set(allowed))
    if missing or extra:
        raise TemplateError(f"{template.kind}: values missing {missing} or not allowed {extra}")
    text = {k: " ".join(str(values[k]).splitlines()) for k in allowed}
    subject = Template(template.subject).substitute(text)
    body = Template(template.body).substitute({k: str(values[k]) for k in allowed})
    return " ".join(subject.split()), body.strip("\n")


def combine(parts: list[tuple[str, str]]) -> tuple[str, str]:
    """One message from the same notice in several languages (subjects joined by `` / ``)."""
    subject = " / ".join(s for s, _ in parts)
    body = SEPARATOR.join(b for _, b in parts) + "\n"
    return subject, body


_PACKAGED: dict[tuple[str, str], NoticeTemplate] | None = None
_LOCK = threading.Lock()


def packaged_templates() -> dict[tuple[str, str], NoticeTemplate]:
    """The packaged defaults (``tollguard/data/notices/*.toml``), loaded once and validated."""
    global _PACKAGED
    if _PACKAGED is None:
        with _LOCK:
            if _PACKAGED is None:
                found: dict[tuple[str, str], NoticeTemplate] = {}
                folder = resources.files("tollguard").joinpath("data", "notices")
                for locale in LOCALES:
                    data = tomllib.loads(
                        folder.joinpath(f"{locale}.toml").read_text(encoding="utf-8")
                    )
                    for kind in KINDS:
                        entry = data.get(kind)
                        if not isinstance(entry, dict):
                            raise TemplateError(f"packaged {locale}.toml has no [{kind}]")
                        found[(kind, locale)] = validate(
                            NoticeTemplate(kind, locale, entry["subject"], entry["body"])
                        )
                _PACKAGED = found
    return _PACKAGED


def default_template(kind: str, locale: str) -> NoticeTemplate:
    """The packaged template of a kind and locale."""
    found = packaged_templates().get((kind, locale))
    if found is None:
        raise TemplateError(f"no packaged template {kind}/{locale}")
    return found
