"""App factory of the intake service."""
from shared.web import create_service_app

from . import tables


def create_app(settings=None, platform=None):
    app = create_service_app("intake", __name__, tables.all_tables(), settings=settings, platform=platform,
                             api_title="Intake: inclusion cases")
    from . import api, cli, pages
    app.extensions["smorest_api"].register_blueprint(api.blp)
    app.extensions["smorest_api"].register_blueprint(api.internal)
    app.register_blueprint(pages.pages)
    api.register_domain_errors(app)
    cli.register(app)
    return app
