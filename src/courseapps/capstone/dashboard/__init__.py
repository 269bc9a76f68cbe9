"""The capstone's live observability dashboard (FastAPI + one static page with vendored uPlot charts).

>>> from courseapps.capstone.dashboard import create_app
>>> server = kc.serve(create_app(prefix, run_dir=run_dir, bootstrap_servers=cluster.bootstrap_servers))

See :mod:`.app` for the routes and :mod:`.data` for what each panel shows.
"""

from .app import create_app

__all__ = ["create_app"]
