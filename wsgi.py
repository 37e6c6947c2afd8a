"""WSGI entry point: gunicorn wsgi:app"""

from dotenv import load_dotenv

load_dotenv()

from app import create_app  # noqa: E402

app = create_app()

# Load the report classifier here, in gunicorn's master (preload_app): workers fork with it in
# shared memory instead of each loading it on their first report.
from reports.classifier import get_model  # noqa: E402

get_model(app)

# Everything loaded so far lives as long as the process: move it out of the garbage collector's
# reach (gc.freeze), so full collections in the workers scan only request garbage (shorter pauses,
# better tail latency) and do not dirty the pages the workers share with the master.
import gc  # noqa: E402

gc.collect()
gc.freeze()
