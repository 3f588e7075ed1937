"""``python -m services.migration follow|work|snapshot|requeue|status``: the same commands as ``vitalsync migrate``."""

from services.migration.cli import app

if __name__ == "__main__":
    app()
