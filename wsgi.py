"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``."""

import gc

from association import create_app

app = create_app()
# The app's own objects (models, templates, catalogues: about 190,000) live as long as the
# process: kept out of the garbage collector's scans, which took about a tenth of a page's
# CPU (bench/load.py).
gc.freeze()
