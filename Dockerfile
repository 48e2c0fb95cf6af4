# salonbridge: one image for every process; the entry point is the `salonbridge` CLI and each
# container names its subcommand (web, worker, clock, db upgrade). See docs/deployment.md.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY pipelines ./pipelines
COPY bridge ./bridge
COPY webhooks ./webhooks
COPY jobs ./jobs
COPY salonbridge ./salonbridge
COPY amocrm_sandbox ./amocrm_sandbox
COPY payment_sandbox ./payment_sandbox
RUN pip install '.[postgres]' && rm -rf /app/build

# An unprivileged user; /data holds SQLite and the embedded Redis when no DATABASE_URL/REDIS_URL is given.
RUN useradd --system --uid 10001 --home-dir /data --create-home salonbridge
USER salonbridge
WORKDIR /data

ENV SALONBRIDGE_INSTANCE=/data \
    SALONBRIDGE_TENANTS=/etc/salonbridge/tenants \
    SALONBRIDGE_BIND=0.0.0.0:8000 \
    SALONBRIDGE_LOG_JSON=1
EXPOSE 8000

ENTRYPOINT ["salonbridge"]
CMD ["web"]
