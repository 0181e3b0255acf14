"""App factory of the consent service."""
from shared.web import create_service_app

from . import tables


def create_app(settings=None, platform=None):
    app = create_service_app("consent", __name__, tables.all_tables(), settings=settings, platform=platform,
                             api_title="Consent: signed consents per office")
    return app
