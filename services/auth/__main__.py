"""``python -m services.auth``: read settings from the environment and serve until SIGTERM."""

from services.auth.app import SERVICE, create_app
from services.auth.config import AuthSettings
from shared.web.server import serve

if __name__ == "__main__":
    settings = AuthSettings()
    serve(SERVICE, settings, create_app, settings.auth_port)  # type: ignore[arg-type]
