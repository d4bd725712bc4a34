# bantin — one process (bot + scheduler + deliverer) on SQLite by default.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY jobs ./jobs
COPY storage ./storage
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 bantin && mkdir /data && chown bantin /data
COPY --from=build /install /usr/local
USER bantin
WORKDIR /data
ENV BANTIN_DATABASE_URL=sqlite:////data/bantin.db \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
CMD ["bantin", "run"]
