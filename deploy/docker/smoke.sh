#!/usr/bin/env bash
# Runs both images as the Kubernetes manifests run them (the image's non-root user, a read-only root filesystem,
# writable /tmp and /var/lib/hearth only) against the PostgreSQL, Redis and RabbitMQ of this machine, with
# every role in its own container on the host's network, then holds a conversation through them:
#
#   bash deploy/docker/smoke.sh [RASA_IMAGE] [APP_IMAGE]     # defaults: hearth-rasa:dev hearth-app:dev
#
# It checks that each role starts, reports healthy through the images' HEALTHCHECK command, that the Rasa
# server answers with the help of the action server, that history ingestion writes the conversation into the
# CRM database through RabbitMQ, and that the console and the CRM API refuse a caller without credentials.
# Exit 0 when all of that holds. Databases `hearth_smoke_crm` and `hearth_smoke_tracker` are made afresh.
set -euo pipefail

rasa_image="${1:-hearth-rasa:dev}"
app_image="${2:-hearth-app:dev}"
pg="${SMOKE_POSTGRES:-postgresql://postgres@127.0.0.1:5432}"
prefix=hearth-smoke
secret() { python3 -c "import secrets; print(secrets.token_hex(32))"; }

env_file="$(mktemp)"
cleanup() {
    docker ps -aq --filter "name=$prefix-" | xargs -r docker rm -f >/dev/null
    rm -f "$env_file"
}
trap cleanup EXIT
cleanup

for db in hearth_smoke_crm hearth_smoke_tracker; do
    psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
rasa_token="$(secret)"
crm_api_token="$(secret)"
cat >"$env_file" <<EOF
HEARTH_ENV=production
CRM_DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1:5432/hearth_smoke_crm
TRACKER_DB_URL=postgresql://postgres@127.0.0.1:5432/hearth_smoke_tracker
REDIS_URL=redis://127.0.0.1:6379/3
RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672/
HISTORY_QUEUE=hearth_smoke_history
CRM_SECRET=$(secret)
ACTION_SERVER_TOKEN=$(secret)
WEB_IDENTITY_SECRET=$(secret)
RASA_API_TOKEN=$rasa_token
CRM_API_TOKEN=$crm_api_token
CODE_SENDER=log
RASA_PORT=15005
ACTION_PORT=15055
CONSOLE_PORT=15070
WEBSITE_PORT=15080
ACTION_ENDPOINT_URL=http://127.0.0.1:15055/webhook
RASA_URL=http://127.0.0.1:15005
WEBCHAT_SOCKET_URL=http://127.0.0.1:15005
EOF

run() {  # run <name> <image> <role>: as in deploy/k8s (read-only root, emptyDir-like /tmp and data folder)
    docker run -d --name "$prefix-$1" --network host --read-only \
        --tmpfs /tmp:exec --tmpfs /var/lib/hearth:uid=10001,gid=10001 --env-file "$env_file" "$2" "$3" >/dev/null
}
healthy() {  # healthy <name> <role> <seconds>: the image's own HEALTHCHECK command, until it passes
    local deadline=$((SECONDS + $3))
    until docker exec "$prefix-$1" python /app/deploy/docker/entrypoint.py healthcheck "$2" >/dev/null 2>&1; do
        if [ "$(docker inspect -f '{{.State.Running}}' "$prefix-$1")" != true ] || ((SECONDS > deadline)); then
            echo "FAIL: $1 did not become healthy; its log:" >&2
            docker logs --tail 40 "$prefix-$1" >&2
            exit 1
        fi
        sleep 2
    done
    echo "ok: $1 healthy after $((SECONDS - started)) s"
}

started=$SECONDS
docker run --rm --name "$prefix-migrate" --network host --read-only --tmpfs /tmp --env-file "$env_file" \
    "$app_image" migrate
echo "ok: migrate ($((SECONDS - started)) s)"

run actions "$app_image" actions
run history "$app_image" history
run console "$app_image" console
run website "$app_image" website
run crm-api "$app_image" crm-api
run rasa "$rasa_image" rasa
for role in actions console website crm-api; do healthy "$role" "$role" 120; done
healthy history history 60
healthy rasa rasa 240

sender="smoke-$(date +%s)"
reply="$(curl -fsS -X POST http://127.0.0.1:15005/webhooks/rest/webhook -H 'Content-Type: application/json' \
    -d "{\"sender\": \"$sender\", \"message\": \"Hello\"}")"
echo "ok: the bot answered: $reply"
[[ "$reply" == *'"text"'* ]] || { echo "FAIL: no text in the reply" >&2; exit 1; }
reply="$(curl -fsS -X POST http://127.0.0.1:15005/webhooks/rest/webhook -H 'Content-Type: application/json' \
    -d "{\"sender\": \"$sender\", \"message\": \"where is my order?\"}")"
echo "ok: the bot answered: $reply"

deadline=$((SECONDS + 60))
until [ "$(psql "$pg/hearth_smoke_crm" -tAc "SELECT count(*) FROM conversations WHERE sender_id = '$sender'")" -ge 1 ]; do
    ((SECONDS < deadline)) || { echo "FAIL: the conversation did not reach the CRM's history" >&2; docker logs --tail 40 "$prefix-history" >&2; exit 1; }
    sleep 2
done
echo "ok: history ingestion wrote the conversation into the CRM database"

status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(status http://127.0.0.1:15005/conversations/$sender/tracker)" = 401 ] || { echo "FAIL: Rasa's API without its token" >&2; exit 1; }
# The console's way in: an admin JWT (HS256, 60 s) signed with RASA_API_TOKEN, in the Authorization header (the key
# is handed over in the environment, never on a command line). The key itself in the URL, Rasa's --auth-token way, is
# refused, and so is a token with alg "none".
rasa_jwt() {  # rasa_jwt [alg]: a token as crm_adapter/rasa_api.py makes it (alg none: unsigned)
    RASA_API_TOKEN="$rasa_token" python3 -c '
import base64, hashlib, hmac, json, os, sys, time
part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
alg, now = sys.argv[1], int(time.time())
signing = part({"alg": alg, "typ": "JWT"}) + "." + part({"user": {"username": "smoke", "role": "admin"}, "iat": now, "exp": now + 60})
key = os.environ["RASA_API_TOKEN"].encode()
signature = hmac.new(key, signing.encode(), hashlib.sha256).digest() if alg == "HS256" else b""
print(signing + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode())' "${1:-HS256}"
}
[ "$(status -H "Authorization: Bearer $(rasa_jwt)" http://127.0.0.1:15005/conversations/$sender/tracker)" = 200 ] || { echo "FAIL: Rasa's API with the console's JWT" >&2; exit 1; }
[ "$(status -H "Authorization: Bearer $(rasa_jwt none)" http://127.0.0.1:15005/conversations/$sender/tracker)" = 401 ] || { echo "FAIL: Rasa's API took an unsigned JWT" >&2; exit 1; }
[ "$(status "http://127.0.0.1:15005/conversations/$sender/tracker?token=$rasa_token")" = 401 ] || { echo "FAIL: Rasa's API took its key in the URL" >&2; exit 1; }
[ "$(status -X POST http://127.0.0.1:15055/webhook -d '{}')" = 401 ] || { echo "FAIL: the action server without its token" >&2; exit 1; }
[ "$(status http://127.0.0.1:5090/v1/customers/1)" = 401 ] || { echo "FAIL: the CRM API without its token" >&2; exit 1; }
[ "$(status -H "Authorization: Bearer $crm_api_token" http://127.0.0.1:5090/v1/customers/1)" = 404 ] || { echo "FAIL: the CRM API with its token" >&2; exit 1; }
[ "$(status http://127.0.0.1:15070/)" = 303 ] || { echo "FAIL: the console's queue without signing in" >&2; exit 1; }
echo "ok: Rasa's API, the action server, the CRM API and the console refuse callers without credentials"
for name in actions history console website crm-api rasa; do
    user="$(docker exec "$prefix-$name" id -u)"
    [ "$user" = 10001 ] || { echo "FAIL: $name runs as user $user" >&2; exit 1; }
done
echo "ok: every container runs as user 10001 on a read-only root filesystem"
echo "smoke test passed in $((SECONDS - started)) s"
