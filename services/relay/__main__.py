"""``python -m services.relay``: read settings from the environment and relay until SIGTERM."""

from services.relay.app import SERVICE, create_app
from shared.settings import CommonSettings
from shared.web.server import serve

if __name__ == "__main__":
    settings = CommonSettings()
    serve(SERVICE, settings, create_app, settings.relay_port)
