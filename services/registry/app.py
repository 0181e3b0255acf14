"""App factory of the registry service.

The web app serves researchers and never loads the pseudonym secret; only the bus consumer's handlers do
(services.registry.handlers, through service.IngestContext), so an export path cannot compute or reverse a pseudonym.
"""
from shared.web import create_service_app

from . import api, cli, handlers, pages, tables


def create_app(settings=None, platform=None):
    app = create_service_app("registry", __name__, tables.all_tables(), settings=settings, platform=platform,
                             api_title="Registry: pseudonymised closures for researchers")
    app.extensions["smorest_api"].register_blueprint(api.blp)
    app.register_blueprint(pages.pages)
    cli.register(app)
    app.extensions["consumer_spec"] = handlers.consumer_spec()
    return app
