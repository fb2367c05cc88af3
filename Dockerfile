# stoplive in a container: `docker build -t stoplive .`, then `docker run --env-file .env stoplive`.
# docker-compose.yml beside it runs two replicas sharing one Redis.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package needs: no .env, tests or benchmarks end up in the image.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install . && rm -rf /src

# Not root; /data is the working directory, so the default SQLite state file (used when no
# Redis URL is set) lands in a place a volume can keep across restarts.
RUN useradd --create-home --uid 10001 stoplive && install -d -o stoplive /data
USER stoplive
WORKDIR /data
VOLUME ["/data"]

# HTTP mode listens on $PORT (3000 unless set); Socket Mode serves /healthz and /metrics there
# (STOPLIVE_SOCKET_HEALTH=false: no port).
EXPOSE 3000
CMD ["python", "-m", "bot"]
