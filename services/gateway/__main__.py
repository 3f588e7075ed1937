"""``python -m services.gateway``: the same commands as ``vitalsync gateway`` (run, scan, report)."""

from services.gateway.cli import app

if __name__ == "__main__":
    app(prog_name="python -m services.gateway")
