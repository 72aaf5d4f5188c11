"""The web app: the journey map and the analyses as pages, and their JSON twins.

``create_app(project_dir)`` builds the FastAPI app; ``run_server(...)`` serves it (what
``kundresa serve`` and ``kundresa demo`` call).
"""

from kundresa.web.app import create_app
from kundresa.web.cli import run_server, serve

__all__ = ["create_app", "run_server", "serve"]
