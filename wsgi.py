"""WSGI entry point: gunicorn wsgi:app"""

from dotenv import load_dotenv

load_dotenv()

from app import create_app  # noqa: E402

app = create_app()

# Load the report classifier here, in gunicorn's master (preload_app): workers fork with it in
# shared memory instead of each loading it on their first report.
from reports.classifier import get_model  # noqa: E402

get_model(app)
