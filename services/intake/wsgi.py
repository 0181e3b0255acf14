"""gunicorn entry: `gunicorn services.intake.wsgi:app`."""
from services.intake.app import create_app

app = create_app()
