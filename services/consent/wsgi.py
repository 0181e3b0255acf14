"""gunicorn entry: `gunicorn services.consent.wsgi:app`."""
from services.consent.app import create_app

app = create_app()
