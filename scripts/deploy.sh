#!/usr/bin/env bash
# Deploys (or upgrades in place) Bedrock Proxy on this host with Docker Compose:
#   checks Docker and Compose, prepares .env, builds the image, runs `bedrock-proxy doctor` inside it
#   (AWS identity, model access, Langfuse), starts the gateway and waits until it reports healthy.
# Safe to re-run: it rebuilds, re-checks and recreates the container only when the image or settings changed.
# Environment knobs: HEALTH_TIMEOUT (seconds, default 120), SKIP_DOCTOR=1 (start even if doctor fails: not advised).
set -euo pipefail

readonly MIN_DOCKER=20.10
readonly MIN_COMPOSE=2.0
readonly SERVICE=litellm

cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
fail() {
    printf 'ERROR: %s\n' "$1" >&2
    shift
    local line
    for line in "$@"; do printf '       %s\n' "$line" >&2; done
    exit 1
}

# version_at_least HAVE WANT: true when HAVE >= WANT (dotted numbers; a leading "v" and suffixes are ignored).
version_at_least() {
    local have=${1#v} want=$2
    have=${have%%[-+]*}
    [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n 1)" = "$want" ]
}

# env_value KEY: the last value given to KEY in .env, without surrounding quotes (the file is never sourced).
env_value() {
    local value
    value=$(grep -E "^[[:space:]]*$1=" .env | tail -n 1 | cut -d= -f2-) || true
    value=${value%\"}
    value=${value#\"}
    value=${value%\'}
    value=${value#\'}
    printf '%s' "$value"
}

# set_env_value KEY VALUE: replace KEY's line in .env, or append one.
set_env_value() {
    local tmp
    tmp=$(mktemp .env.XXXXXX)
    if grep -qE "^[[:space:]]*$1=" .env; then
        awk -v key="$1" -v value="$2" '
            $0 ~ "^[[:space:]]*" key "=" { print key "=" value; next }
            { print }' .env >"$tmp"
    else
        cat .env >"$tmp"
        printf '%s=%s\n' "$1" "$2" >>"$tmp"
    fi
    chmod 600 "$tmp"
    mv "$tmp" .env
}

random_hex() {
    od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

check_docker() {
    command -v docker >/dev/null 2>&1 ||
        fail "Docker is not installed (or not on PATH)." \
            "Amazon Linux 2023: sudo dnf install -y docker && sudo systemctl enable --now docker" \
            "Ubuntu/Debian: https://docs.docker.com/engine/install/  then re-run ./scripts/deploy.sh"
    local server
    server=$(docker version --format '{{.Server.Version}}' 2>/dev/null) ||
        fail "The Docker daemon does not answer." \
            "Start it: sudo systemctl enable --now docker" \
            "Or let your user use it: sudo usermod -aG docker \"\$USER\" (then log out and back in)"
    version_at_least "$server" "$MIN_DOCKER" ||
        fail "Docker $server is too old: $MIN_DOCKER or newer is required." "Upgrade Docker, then re-run."
    say "Docker $server"
}

# Sets the COMPOSE array to the Compose v2 command available: the `docker compose` plugin, else `docker-compose`.
check_compose() {
    local version
    if version=$(docker compose version --short 2>/dev/null); then
        COMPOSE=(docker compose)
    elif command -v docker-compose >/dev/null 2>&1 && version=$(docker-compose version --short 2>/dev/null); then
        COMPOSE=(docker-compose)
    else
        fail "Docker Compose is not installed." \
            "Install the Compose v2 plugin: https://docs.docker.com/compose/install/linux/" \
            "(Amazon Linux 2023: place docker-compose-linux-\$(uname -m) in /usr/local/lib/docker/cli-plugins/docker-compose)"
    fi
    version_at_least "$version" "$MIN_COMPOSE" ||
        fail "Docker Compose $version is too old: $MIN_COMPOSE or newer is required." \
            "Install the Compose v2 plugin: https://docs.docker.com/compose/install/linux/"
    say "Compose $version (${COMPOSE[*]})"
}

prepare_env() {
    [ -f config.yaml ] || fail "config.yaml is missing in $(pwd)." "Restore it from the repository: git checkout -- config.yaml"
    [ -f .env ] ||
        fail ".env is missing in $(pwd)." \
            "Create it from the template and fill it:  cp .env.example .env && nano .env" \
            "Then re-run ./scripts/deploy.sh"
    chmod 600 .env
    if [ -z "$(env_value LITELLM_MASTER_KEY)" ]; then
        local key
        key="sk-$(random_hex 24)"
        set_env_value LITELLM_MASTER_KEY "$key"
        say "Generated a master key and saved it in .env (shown once, keep it safe):"
        printf '\n    LITELLM_MASTER_KEY=%s\n\n' "$key"
    fi
    if [[ ",$(env_value COMPOSE_PROFILES)," == *,postgres,* ]] && [ -z "$(env_value POSTGRES_PASSWORD)" ]; then
        local password
        password=$(random_hex 16)
        set_env_value POSTGRES_PASSWORD "$password"
        if [ -z "$(env_value DATABASE_URL)" ]; then
            local user database
            user=$(env_value POSTGRES_USER)
            database=$(env_value POSTGRES_DB)
            set_env_value DATABASE_URL \
                "postgresql://${user:-bedrock_proxy}:$password@postgres:5432/${database:-bedrock_proxy}"
        fi
        say "Generated POSTGRES_PASSWORD and DATABASE_URL in .env"
    fi
    # Compose reads COMPOSE_PROFILES from .env itself; export it so every command below agrees.
    COMPOSE_PROFILES=$(env_value COMPOSE_PROFILES)
    export COMPOSE_PROFILES
}

# Optional services (redis, postgres) start first so the doctor can reach them.
start_dependencies() {
    local services=() name
    while IFS= read -r name; do
        [ -n "$name" ] && [ "$name" != "$SERVICE" ] && services+=("$name")
    done < <("${COMPOSE[@]}" config --services)
    if [ "${#services[@]}" -gt 0 ]; then
        say "Starting ${services[*]}"
        "${COMPOSE[@]}" up -d "${services[@]}"
    fi
}

run_doctor() {
    say "Checking AWS credentials, model access and Langfuse (bedrock-proxy doctor)"
    if "${COMPOSE[@]}" run --rm --no-deps "$SERVICE" bedrock-proxy doctor --config /app/config.yaml; then
        return 0
    fi
    if [ "${SKIP_DOCTOR:-0}" = "1" ]; then
        say "doctor reported blocking problems; starting anyway because SKIP_DOCTOR=1"
        return 0
    fi
    fail "bedrock-proxy doctor found problems that block serving (see the table above)." \
        "Fix them (docs/deploy.md explains each one), then re-run ./scripts/deploy.sh" \
        "The running gateway, if any, was left untouched."
}

wait_healthy() {
    local timeout=${HEALTH_TIMEOUT:-$(env_value HEALTH_TIMEOUT)}
    timeout=${timeout:-120}
    local interval=${HEALTH_INTERVAL:-2} start=$SECONDS container status
    container=$("${COMPOSE[@]}" ps -q "$SERVICE")
    [ -n "$container" ] || fail "The $SERVICE container was not created." "See: ${COMPOSE[*]} logs $SERVICE"
    say "Waiting up to ${timeout}s for the gateway to report healthy"
    while true; do
        status=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' \
            "$container" 2>/dev/null || echo missing)
        case "$status" in
            healthy) return 0 ;;
            unhealthy | exited | dead | missing)
                "${COMPOSE[@]}" logs --tail 50 "$SERVICE" >&2 || true
                fail "The gateway is $status (its last log lines are above)." \
                    "Check config.yaml and .env, run: ${COMPOSE[*]} run --rm $SERVICE bedrock-proxy doctor --config /app/config.yaml" ;;
        esac
        if [ $((SECONDS - start)) -ge "$timeout" ]; then
            "${COMPOSE[@]}" logs --tail 50 "$SERVICE" >&2 || true
            fail "The gateway did not become healthy within ${timeout}s (status: $status)." \
                "Raise HEALTH_TIMEOUT in .env if the host is slow, or read the log lines above."
        fi
        sleep "$interval"
    done
}

print_next_steps() {
    local port
    port=$(env_value PORT)
    port=${port:-4002}
    if command -v curl >/dev/null 2>&1; then
        say "GET http://localhost:$port/health"
        curl -sS --max-time 10 "http://localhost:$port/health" || true
        printf '\n'
    fi
    cat <<EOF

Bedrock Proxy is up on port $port.

  Try it (the master key is LITELLM_MASTER_KEY in .env):
    curl http://localhost:$port/v1/chat/completions \\
      -H "Authorization: Bearer \$(grep '^LITELLM_MASTER_KEY=' .env | cut -d= -f2-)" \\
      -H 'Content-Type: application/json' \\
      -d '{"model": "claude-3-haiku", "messages": [{"role": "user", "content": "Bonjour"}], "max_tokens": 50}'

  Logs:          ${COMPOSE[*]} logs -f $SERVICE
  Diagnose:      ${COMPOSE[*]} run --rm $SERVICE bedrock-proxy doctor --config /app/config.yaml
  Upgrade:       git pull && ./scripts/deploy.sh
  Stop:          ${COMPOSE[*]} down
EOF
}

main() {
    COMPOSE=()
    check_docker
    check_compose
    prepare_env
    say "Building the image"
    "${COMPOSE[@]}" build --pull "$SERVICE"
    start_dependencies
    run_doctor
    say "Starting the gateway"
    "${COMPOSE[@]}" up -d --remove-orphans "$SERVICE"
    wait_healthy
    print_next_steps
}

main "$@"
