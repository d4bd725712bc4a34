# bantin — one image for every role: `bantin run` (all in one, SQLite by default) or, for scale,
# `bantin serve`, `bantin scheduler` and `bantin worker` sharing PostgreSQL (docker-compose.yml).

# -- build: compile wheels (lxml, asyncpg, ... have binary wheels; gcc only if one does not) ----
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY jobs ./jobs
COPY storage ./storage
RUN python -m venv /opt/bantin \
 && /opt/bantin/bin/pip install --upgrade pip \
 && /opt/bantin/bin/pip install .

# -- runtime: the virtualenv only, a non-root user, a data volume, a health check --------------
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 bantin && mkdir /data && chown bantin /data
COPY --from=build /opt/bantin /opt/bantin
ENV PATH=/opt/bantin/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BANTIN_DATABASE_URL=sqlite:////data/bantin.db \
    BANTIN_LOG_FORMAT=json
USER bantin
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# /healthz on BANTIN_METRICS_PORT when set, else of `bantin serve` on BANTIN_LISTEN; `bantin run`
# without a metrics port has no HTTP endpoint, and the check then asks the database itself.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["bantin", "healthcheck"]
CMD ["bantin", "run"]
