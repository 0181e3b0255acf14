"""App factory of the registry service."""
from shared.web import create_service_app

from . import tables


def create_app(settings=None, platform=None):
    app = create_service_app("registry", __name__, tables.all_tables(), settings=settings, platform=platform,
                             api_title="Registry: pseudonymised closures for researchers")
    return app
