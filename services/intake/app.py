"""App factory of the intake service."""
from shared.web import create_service_app

from . import (
    admin_pages,  # noqa: F401  (importing it adds the project end's confirmation to the pages blueprint)
    api,
    case_pages,  # noqa: F401  (importing it adds the case's home page and its parts to the pages blueprint)
    cli,
    closure_pages,  # noqa: F401  (importing it adds the closure form's steps to the pages blueprint)
    pages,
    privacy_api,
    privacy_pages,  # noqa: F401  (importing it adds the /personvern pages to the pages blueprint)
    tables,
)
from .peers import load_peers


def create_app(settings=None, platform=None):
    app = create_service_app("intake", __name__, tables.all_tables(), settings=settings, platform=platform,
                             api_title="Intake: inclusion cases")
    app.extensions["privacy_peers"] = load_peers(app.extensions["platform"].settings)
    app.extensions["smorest_api"].register_blueprint(api.blp)
    app.extensions["smorest_api"].register_blueprint(api.internal)
    app.extensions["smorest_api"].register_blueprint(privacy_api.blp)
    app.register_blueprint(pages.pages)
    api.register_domain_errors(app)
    privacy_api.register_errors(app)
    cli.register(app)
    return app
