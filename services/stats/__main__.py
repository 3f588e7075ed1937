"""``python -m services.stats``: read settings from the environment and serve until SIGTERM."""

from services.stats.app import SERVICE, create_app
from services.stats.config import StatsSettings
from shared.web.server import serve

if __name__ == "__main__":
    settings = StatsSettings()
    serve(SERVICE, settings, create_app, settings.stats_port)  # type: ignore[arg-type]
