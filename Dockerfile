# One image for every VitalSync process; compose and ECS pick the command (python -m services.<name>).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md vitalsync_cli.py ./
COPY services ./services
COPY simulator ./simulator
COPY shared ./shared
COPY infra ./infra
RUN pip install '.[dev]'
USER nobody
CMD ["vitalsync", "--help"]
