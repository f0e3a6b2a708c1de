#!/usr/bin/env bash
# Stand-in for the docker CLI (also installed as docker-compose and curl) used by test_deploy_script.py:
# it records every call in $FAKE_DOCKER_LOG and answers as the scenario's FAKE_* variables say.
#   FAKE_DOCKER_SERVER   server version printed by `docker version` (empty: the daemon does not answer)
#   FAKE_COMPOSE         `docker compose version --short` (empty: no compose plugin)
#   FAKE_STANDALONE      `docker-compose version --short` when installed as docker-compose
#   FAKE_DOCTOR_RC       exit code of `compose run ... bedrock-proxy doctor`
#   FAKE_HEALTH          health states returned by successive `docker inspect` calls (the last one repeats)
#   FAKE_SERVICES        services printed by `compose config --services`
set -euo pipefail

tool=$(basename "$0")
printf '%s %s\n' "$tool" "$*" >>"$FAKE_DOCKER_LOG"

if [ "$tool" = curl ]; then
    printf '{"status": "healthy"}'
    exit 0
fi

compose() {
    case "${1:-}" in
        version)
            [ -n "$2" ] || {
                echo "docker: unknown command: docker compose" >&2
                exit 1
            }
            printf '%s\n' "$2"
            ;;
        run) exit "${FAKE_DOCTOR_RC:-0}" ;;
        ps) echo c0ffee ;;
        config) printf '%s\n' "${FAKE_SERVICES:-litellm}" | tr ' ' '\n' ;;
        logs) echo "litellm  | config error: boom" ;;
        *) ;;
    esac
}

if [ "$tool" = docker-compose ]; then
    if [ "${1:-}" = version ]; then
        set -- version "${FAKE_STANDALONE:-}"
    fi
    compose "$@"
    exit 0
fi

case "${1:-}" in
    version)
        [ -n "${FAKE_DOCKER_SERVER:-}" ] || {
            echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2
            exit 1
        }
        printf '%s\n' "$FAKE_DOCKER_SERVER"
        ;;
    compose)
        shift
        if [ "${1:-}" = version ]; then
            set -- version "${FAKE_COMPOSE:-}"
        fi
        compose "$@"
        ;;
    inspect)
        read -r -a states <<<"${FAKE_HEALTH:-healthy}"
        calls=$(grep -c '^docker inspect' "$FAKE_DOCKER_LOG")
        index=$((calls - 1))
        [ "$index" -lt "${#states[@]}" ] || index=$((${#states[@]} - 1))
        printf '%s\n' "${states[$index]}"
        ;;
    *) ;;
esac
