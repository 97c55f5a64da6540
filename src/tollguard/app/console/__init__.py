"""The analyst console and the customer portal of ``tollguard serve`` (``docs/console.md``).

Server-rendered pages (Jinja2), Japanese and English (gettext catalogs compiled with Babel),
every asset bundled in this package. :data:`router` is included in the service's FastAPI app.
"""

from tollguard.app.console.routes import router

__all__ = ["router"]
