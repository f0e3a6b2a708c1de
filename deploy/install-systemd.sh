#!/usr/bin/env bash
# Installs (or upgrades in place) Bedrock Proxy as a systemd service on a host without Docker.
# Run from a clone of the repository, as root:  sudo ./deploy/install-systemd.sh
# Layout: venv in /opt/bedrock-proxy/venv, config and environment in /etc/bedrock-proxy, state in
# /var/lib/bedrock-proxy, user "bedrock-proxy". Existing /etc/bedrock-proxy files are never overwritten.
# Environment knobs: PYTHON (interpreter for the venv, default python3), SKIP_DOCTOR=1, HEALTH_TIMEOUT (seconds).
set -euo pipefail

readonly SERVICE_USER=bedrock-proxy
readonly INSTALL_DIR=/opt/bedrock-proxy
readonly CONFIG_DIR=/etc/bedrock-proxy
readonly UNIT=/etc/systemd/system/bedrock-proxy.service
readonly PYTHON=${PYTHON:-python3}

cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }
fail() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || fail "run as root: sudo $0"
command -v systemctl >/dev/null 2>&1 || fail "systemd (systemctl) is required; use ./scripts/deploy.sh with Docker instead"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
    fail "Python 3.11 or newer is required as '$PYTHON' (Amazon Linux 2023: sudo dnf install -y python3.11; then PYTHON=python3.11 $0)"

if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    say "Creating system user $SERVICE_USER"
    useradd --system --home-dir /var/lib/bedrock-proxy --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
fi

say "Installing the package into $INSTALL_DIR/venv"
install -d -m 0755 "$INSTALL_DIR" "$INSTALL_DIR/docs"
[ -x "$INSTALL_DIR/venv/bin/python" ] || "$PYTHON" -m venv "$INSTALL_DIR/venv"
"$INSTALL_DIR/venv/bin/pip" install --no-cache-dir --upgrade .
install -m 0644 docs/deploy.md "$INSTALL_DIR/docs/deploy.md"

install -d -m 0750 -o root -g "$SERVICE_USER" "$CONFIG_DIR"
if [ ! -f "$CONFIG_DIR/config.yaml" ]; then
    install -m 0640 -o root -g "$SERVICE_USER" config.yaml "$CONFIG_DIR/config.yaml"
    say "Installed $CONFIG_DIR/config.yaml"
fi
if [ ! -f "$CONFIG_DIR/env" ]; then
    if [ -f .env ]; then env_source=.env; else env_source=.env.example; fi
    install -m 0640 -o root -g "$SERVICE_USER" "$env_source" "$CONFIG_DIR/env"
    # Inside the container CONFIG_PATH is /app/config.yaml; here the unit passes --config itself.
    sed -i '/^CONFIG_PATH=/d' "$CONFIG_DIR/env"
    say "Installed $CONFIG_DIR/env from $env_source: review it (Langfuse keys, region)"
fi
if ! grep -qE '^LITELLM_MASTER_KEY=.+' "$CONFIG_DIR/env"; then
    key="sk-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
    sed -i '/^LITELLM_MASTER_KEY=/d' "$CONFIG_DIR/env"
    printf 'LITELLM_MASTER_KEY=%s\n' "$key" >>"$CONFIG_DIR/env"
    say "Generated a master key in $CONFIG_DIR/env (shown once, keep it safe):"
    printf '\n    LITELLM_MASTER_KEY=%s\n\n' "$key"
fi

install -m 0644 deploy/bedrock-proxy.service "$UNIT"
systemctl daemon-reload

say "Checking AWS credentials, model access and Langfuse (bedrock-proxy doctor, as $SERVICE_USER)"
if ! systemd-run --quiet --pipe --wait --collect --uid="$SERVICE_USER" --gid="$SERVICE_USER" \
    -p EnvironmentFile="$CONFIG_DIR/env" \
    "$INSTALL_DIR/venv/bin/bedrock-proxy" doctor --config "$CONFIG_DIR/config.yaml"; then
    [ "${SKIP_DOCTOR:-0}" = "1" ] || fail "doctor found blocking problems (above); fix them and re-run (the running service was left untouched)"
fi

say "Starting bedrock-proxy.service"
systemctl enable bedrock-proxy.service >/dev/null
systemctl restart bedrock-proxy.service

port=$(grep -E '^PORT=' "$CONFIG_DIR/env" | tail -n 1 | cut -d= -f2-) || true
port=${port:-4002}
timeout=${HEALTH_TIMEOUT:-60}
start=$SECONDS
until "$INSTALL_DIR/venv/bin/python" - "$port" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health/liveliness", timeout=3)
PY
do
    if [ $((SECONDS - start)) -ge "$timeout" ]; then
        journalctl -u bedrock-proxy.service -n 50 --no-pager >&2 || true
        fail "bedrock-proxy.service did not become healthy within ${timeout}s (journal above)"
    fi
    sleep 1
done
say "bedrock-proxy is up on port $port. Logs: journalctl -u bedrock-proxy -f"
say "Diagnose: sudo systemd-run --pipe --wait --collect --uid=$SERVICE_USER -p EnvironmentFile=$CONFIG_DIR/env $INSTALL_DIR/venv/bin/bedrock-proxy doctor --config $CONFIG_DIR/config.yaml"
