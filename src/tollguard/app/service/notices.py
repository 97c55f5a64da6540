"""The texts of the notices the service sends, from the notice templates (Japanese, then English).

The post-notification (事後連絡) tells a customer that their international calling was suspended,
why, and how to get it back; the source document sends it after a suspension made when the
customer could not be reached. The restored-service notice follows a restoration. Both come from
the templates in force (:class:`tollguard.app.notices.NoticeCatalog`): the carrier's own, edited
with ``tollguard notices edit``, or the packaged ones (``tollguard/data/notices/``).
"""

from __future__ import annotations

from tollguard.adapters.store import Store
from tollguard.app.notices import JST, NoticeCatalog, format_when

__all__ = ["JST", "post_suspension", "service_restored"]


def post_suspension(
    subscriber_id: str, reason: str, at: float, store: Store | None = None
) -> tuple[str, str]:
    """Subject and body of the post-notification after a suspension."""
    values = {"subscriber_id": subscriber_id, "when": format_when(at), "reason": reason}
    return NoticeCatalog(store).render("post_suspension", values)


def service_restored(
    subscriber_id: str, reason: str, at: float, store: Store | None = None
) -> tuple[str, str]:
    """Subject and body of the notice that international calling is available again."""
    values = {"subscriber_id": subscriber_id, "when": format_when(at), "reason": reason}
    return NoticeCatalog(store).render("service_restored", values)
