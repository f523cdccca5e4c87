# ESCP Connect: one image for the API (`escp serve`) and its migrations (`escp migrate`).
#   docker build -t escp-connect .
#   docker run --rm -e DATABASE_URL=... escp-connect escp migrate
#   docker run -e DATABASE_URL=... -e ESCP_JWT_SECRET=... -p 8000:8000 escp-connect
FROM python:3.11-slim

# PYTHONMALLOC=malloc: Python's own allocator keeps the pages of objects freed when sockets close
# (1,000 live-update sockets: ~50 MB never given back); glibc's hands them back (bench/README.md).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONMALLOC=malloc \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ESCP_DATA_DIR=/var/lib/escp

# A user of its own: the app never runs as root.
# Its data folder (and documents, which a named volume mounted there starts from) is its own.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin escp \
    && mkdir -p /var/lib/escp/documents \
    && chown -R escp:escp /var/lib/escp

WORKDIR /app
COPY pyproject.toml README.md alembic.ini app.py cli.py telemetry.py ./
COPY auth ./auth
COPY db ./db
COPY migrations ./migrations
COPY resolvers ./resolvers
COPY schema ./schema
COPY web ./web
COPY overrides ./overrides
COPY infra ./infra
COPY tasks ./tasks
COPY demo ./demo
# Editable: the code stays in /app, where `escp migrate` finds migrations/ beside db/.
RUN pip install -e . && escp --help > /dev/null

USER escp
VOLUME /var/lib/escp
EXPOSE 8000
# `escp serve` brings the database to the newest migration before it serves (a no-op once
# `escp migrate` ran); it stops gracefully on SIGTERM. Set the workers per container here or
# in the compose file.
CMD ["escp", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
