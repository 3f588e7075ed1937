"""``python -m services.sync``: read settings from the environment and serve until SIGTERM."""

from services.sync.app import SERVICE, create_app
from services.sync.config import SyncSettings
from shared.web.server import serve

if __name__ == "__main__":
    settings = SyncSettings()
    serve(SERVICE, settings, create_app, settings.sync_port)  # type: ignore[arg-type]
