#!/bin/sh
# Container entrypoint: makes sure the gateway has a master key, then runs the command it was given (the
# image's CMD, or e.g. `bedrock-proxy doctor ...` from `docker compose run`).
#
# Why: .env.example ships LITELLM_MASTER_KEY empty. ./scripts/deploy.sh fills it, but the seed's manual path
# (`docker-compose build && docker-compose up -d`, with only the Langfuse lines filled in .env) does not, and
# the gateway refuses to start without a key. So when LITELLM_MASTER_KEY is empty a key is generated once,
# kept on the gateway-data volume (GENERATED_MASTER_KEY_FILE) and reused on every later start; it is printed
# in the logs only the first time. A key set in .env always wins.
set -eu

key_file=${GENERATED_MASTER_KEY_FILE:-/app/data/master-key}

if [ -z "${LITELLM_MASTER_KEY:-}" ]; then
    if [ -s "$key_file" ]; then
        echo "LITELLM_MASTER_KEY is empty in .env: using the key generated on first start," \
            "read it with: docker compose exec litellm cat $key_file" >&2
    else
        key="sk-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
        if ! (umask 077 && printf '%s\n' "$key" >"$key_file.new" && mv "$key_file.new" "$key_file") 2>/dev/null; then
            echo "ERROR: LITELLM_MASTER_KEY is empty and $key_file cannot be written to keep a generated key." >&2
            echo "       Set LITELLM_MASTER_KEY=sk-... in .env (make one with: echo \"sk-\$(openssl rand -hex 16)\")," >&2
            echo "       or mount a writable volume on $(dirname "$key_file")." >&2
            exit 1
        fi
        cat >&2 <<MESSAGE
LITELLM_MASTER_KEY is empty in .env: generated a master key and kept it in $key_file
(on the gateway-data volume). Clients send it as "Authorization: Bearer <key>"; it is shown only this once:

    $key

To choose your own key, set LITELLM_MASTER_KEY in .env and run: docker compose up -d litellm
MESSAGE
    fi
    LITELLM_MASTER_KEY=$(cat "$key_file")
    export LITELLM_MASTER_KEY
fi

# Docker Compose profiles (COMPOSE_PROFILES, passed in by docker-compose.yml): a bundled service that is on is
# the default, so `COMPOSE_PROFILES=redis,postgres` alone wires the gateway to both; values set in .env win.
profiles=",$(printf '%s' "${COMPOSE_PROFILES:-}" | tr -d ' '),"
case $profiles in
*,redis,*)
    if [ -z "${REDIS_HOST:-}" ] && [ -z "${REDIS_URL:-}" ]; then
        REDIS_HOST=redis
        REDIS_PORT=${REDIS_PORT:-6379}
        export REDIS_HOST REDIS_PORT
    fi
    ;;
esac
if [ -z "${DATABASE_URL:-}" ]; then
    case $profiles in
    *,postgres,*)
        if [ -n "${POSTGRES_PASSWORD:-}" ]; then
            DATABASE_URL="postgresql://${POSTGRES_USER:-bedrock_proxy}:${POSTGRES_PASSWORD}@postgres:5432/${POSTGRES_DB:-bedrock_proxy}"
        else
            echo "COMPOSE_PROFILES has postgres but POSTGRES_PASSWORD is empty in .env: keys and spend stay in" \
                "SQLite (${EMBEDDED_DATABASE_URL:-the default file}). Set POSTGRES_PASSWORD, then: docker compose up -d" >&2
        fi
        ;;
    esac
    DATABASE_URL=${DATABASE_URL:-${EMBEDDED_DATABASE_URL:-}}
    if [ -n "$DATABASE_URL" ]; then
        export DATABASE_URL
    else
        unset DATABASE_URL
    fi
fi

exec "$@"
