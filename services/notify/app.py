"""App factory of the notify service."""
from shared.web import create_service_app

from . import tables


def create_app(settings=None, platform=None):
    app = create_service_app("notify", __name__, tables.all_tables(), settings=settings, platform=platform,
                             api_title="Notify: reminders and digests")
    return app
