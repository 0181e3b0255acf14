"""App factory of the notify service."""
from shared.web import create_service_app

from . import api, cli, handlers, pages, privacy_api, tables
from .config import load_notify_config


def create_app(settings=None, platform=None):
    app = create_service_app("notify", __name__, tables.all_tables(), settings=settings, platform=platform,
                             api_title="Notify: reminders and digests")
    app.extensions["notify_config"] = load_notify_config(app.extensions["platform"].settings)
    app.extensions["smorest_api"].register_blueprint(api.blp)
    app.extensions["smorest_api"].register_blueprint(privacy_api.blp)
    app.register_blueprint(pages.pages)
    cli.register(app)
    app.extensions["consumer_spec"] = handlers.consumer_spec()
    return app
