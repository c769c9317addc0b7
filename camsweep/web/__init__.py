"""The web dashboard for officers and auditors: ``camsweep serve``.

``create_app(db_url)`` builds the FastAPI application (pages and ``/api/``);
accounts live in ``camsweep.web.accounts``.
"""

from camsweep.web.app import create_app

__all__ = ["create_app"]
