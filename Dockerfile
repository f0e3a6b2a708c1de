# Bedrock Proxy image: an OpenAI-compatible gateway in front of AWS Bedrock.
# Two stages: the first installs the package and its runtime dependencies into a virtualenv, the second copies
# only that virtualenv onto a fresh slim Python base and runs it as an unprivileged user.
# tests/deploy/test_container_commands.py runs the install and start lines below exactly as written here.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/venv/bin/pip install --no-cache-dir .

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="bedrock-proxy" \
      org.opencontainers.image.description="OpenAI-compatible gateway in front of AWS Bedrock"
# curl: for the checks operators run inside the container (`docker compose exec litellm curl -v "$LANGFUSE_HOST"`).
# Not pinned (DL3008): Debian bookworm's security updates replace the exact version, which would break the build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid so files on mounted volumes keep one owner across rebuilds.
RUN groupadd --system --gid 10001 bedrock \
    && useradd --system --uid 10001 --gid bedrock --home-dir /app --no-create-home --shell /usr/sbin/nologin bedrock \
    && mkdir -p /app/data \
    && chown bedrock:bedrock /app/data
COPY --from=build /opt/venv /opt/venv
COPY deploy/healthcheck.py /opt/venv/bin/bedrock-proxy-healthcheck
COPY deploy/container-entrypoint.sh /opt/venv/bin/bedrock-proxy-entrypoint
# The default config; docker-compose.yml mounts the operator's config.yaml over it, read-only.
COPY config.yaml /app/config.yaml
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CONFIG_PATH=/app/config.yaml \
    PORT=4002 \
    NUM_WORKERS=1 \
    GENERATED_MASTER_KEY_FILE=/app/data/master-key
WORKDIR /app
USER 10001:10001
EXPOSE 4002
# Liveness only: it proves the process answers, it does not call Bedrock (that is what `doctor` is for).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/opt/venv/bin/bedrock-proxy-healthcheck"]
# Generates and keeps a master key when LITELLM_MASTER_KEY is empty (see the script), then runs CMD.
ENTRYPOINT ["/opt/venv/bin/bedrock-proxy-entrypoint"]
# exec: the gateway becomes the container's main process, so `docker stop` (SIGTERM) reaches it and it drains.
CMD ["sh", "-c", "exec bedrock-proxy serve --config \"$CONFIG_PATH\" --host 0.0.0.0 --port \"$PORT\" --num-workers \"$NUM_WORKERS\""]
