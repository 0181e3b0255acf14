"""App factory of the consent service."""
from shared import limits
from shared.web import create_service_app

from . import api, cli, handlers, multipart, pages, privacy_api, service, tables


def create_app(settings=None, platform=None):
    app = create_service_app("consent", __name__, tables.all_tables(), settings=settings, platform=platform,
                             api_title="Consent: signed consents per office")
    max_upload = service.deps_from_platform(app.extensions["platform"]).max_upload_bytes
    # Room for the form fields around the largest document (never above shared.limits.UPLOAD_MAX_BYTES, so never
    # more than the proxies let through); the document limit itself is checked on the content.
    app.config["MAX_CONTENT_LENGTH"] = max_upload + limits.DATA_MAX_BYTES
    app.request_class = multipart.ConsentRequest  # a too-long field is blamed on itself, not on the document
    app.extensions["smorest_api"].register_blueprint(api.blp)
    app.extensions["smorest_api"].register_blueprint(privacy_api.blp)
    app.register_blueprint(pages.pages)
    api.register_domain_errors(app)
    cli.register(app)
    app.extensions["consumer_spec"] = handlers.consumer_spec()
    return app
