#!/usr/bin/env bash
# Smoke test of deploy/: Debian's nginx with the shipped site (deploy/nginx/association.conf)
# and a self-signed certificate, in front of gunicorn and the worker on PostgreSQL, with the
# local Daraja sandbox; then deploy/smoke/check.py logs in over HTTPS through nginx, pays
# by STK push and checks compression, caching, headers, the access log and the client address.
#
#   SMOKE_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:54329/association_smoke \
#       deploy/smoke/run.sh
#
# The database is emptied (its schemas dropped), migrated and given the demo data by its
# owner; the app and the worker run as the role association_app with the grants of
# `flask hosting grants`.
# Needs nginx, openssl and the project's .venv (`make install translations`); checks the
# systemd units and the compose file too when systemd-analyze and docker-compose are there
# (.ci/run installs them). Ports:
# SMOKE_HTTPS_PORT (8443), SMOKE_HTTP_PORT (8080), SMOKE_APP_PORT (8001),
# SMOKE_SANDBOX_PORT (8766), all on 127.0.0.1. Everything it starts is stopped on exit.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
: "${SMOKE_DATABASE_URL:?set SMOKE_DATABASE_URL to a PostgreSQL database it may empty}"
HTTPS_PORT=${SMOKE_HTTPS_PORT:-8443}
HTTP_PORT=${SMOKE_HTTP_PORT:-8080}
APP_PORT=${SMOKE_APP_PORT:-8001}
SANDBOX_PORT=${SMOKE_SANDBOX_PORT:-8766}
BIN=$ROOT/.venv/bin
FLASK=("$BIN/flask" --app wsgi)
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

WORK=$(mktemp -d /tmp/association-smoke.XXXXXX)
# nginx's workers drop root for another user: they must reach the temp folders below.
chmod 755 "$WORK"
PIDS=()
NAMES=()

start() {  # start NAME LOGFILE COMMAND...: in the background, remembered for cleanup
    local name=$1 log=$2
    shift 2
    "$@" >"$log" 2>&1 &
    PIDS+=($!)
    NAMES+=("$name")
}

cleanup() {
    local rc=$? i
    set +e
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill -TERM "${PIDS[$i]}" 2>/dev/null
    done
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        # gunicorn and the worker finish what they are doing; give them 30 s.
        for _ in $(seq 60); do kill -0 "${PIDS[$i]}" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "${PIDS[$i]}" 2>/dev/null
        wait "${PIDS[$i]}" 2>/dev/null
    done
    if [ "$rc" -ne 0 ]; then
        for log in "$WORK"/*.log "$WORK"/nginx/*.log; do
            [ -f "$log" ] || continue
            echo "--- $log (last 40 lines)" >&2
            tail -n 40 "$log" >&2
        done
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the systemd units, with this checkout's paths ----------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
    echo "== smoke: systemd-analyze verify deploy/systemd"
    mkdir -p "$WORK/systemd"
    for unit in deploy/systemd/association-*.service deploy/systemd/association-*.timer; do
        sed "s|/srv/association|$ROOT|g" "$unit" >"$WORK/systemd/$(basename "$unit")"
    done
    (cd "$WORK/systemd" && systemd-analyze verify association-*.service association-*.timer)
else
    echo "(no systemd-analyze: the systemd units are not checked)"
fi

# --- the compose file (no image is built or pulled) -------------------------------------------
if command -v docker-compose >/dev/null 2>&1; then
    echo "== smoke: docker-compose config"
    SECRET_KEY=smoke POSTGRES_PASSWORD=smoke SERVER_NAME=association.example.org \
        docker-compose -f deploy/compose.yaml --project-directory deploy config --quiet
else
    echo "(no docker-compose: deploy/compose.yaml is not checked)"
fi

# --- the database: emptied, migrated, the demo loaded (seed-demo refuses production) ------
echo "== smoke: database"
"$BIN/python" - "$SMOKE_DATABASE_URL" <<'EOF'
import sys

import sqlalchemy as sa

engine = sa.create_engine(sys.argv[1])
with engine.begin() as conn:
    schemas = conn.exec_driver_sql(
        "SELECT nspname FROM pg_namespace WHERE nspname = 'hosting' "
        "OR nspname LIKE 'association%%'").scalars().all()
    for schema in schemas:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
    conn.exec_driver_sql("CREATE SCHEMA public")
engine.dispose()
EOF
mkdir -p "$WORK/instance"
# One secret key for the owner's commands and the app: the associations' M-Pesa secrets are
# encrypted with a key derived from it (HOSTING_SECRETS_KEY unset), as in a real install.
SECRET_KEY=$(openssl rand -hex 32)
export SECRET_KEY
APP_ENV=development DATABASE_URL=$SMOKE_DATABASE_URL INSTANCE_PATH=$WORK/instance \
    "${FLASK[@]}" db upgrade >"$WORK/migrate.log" 2>&1
APP_ENV=development DATABASE_URL=$SMOKE_DATABASE_URL INSTANCE_PATH=$WORK/instance \
    "${FLASK[@]}" seed-demo >"$WORK/seed.log" 2>&1

# The app and the worker run as a role that does not own the tables and holds no UPDATE or
# DELETE on the books and the trail: the grants `hosting grants` gives, schema by schema (the
# catalogue's and each association's), given by the owner (who migrated). The demo's first
# association is served on this host's name, as an association with a host name of its own.
"$BIN/python" - "$SMOKE_DATABASE_URL" <<'EOF'
import sys

import sqlalchemy as sa

engine = sa.create_engine(sys.argv[1])
with engine.begin() as conn:
    conn.exec_driver_sql(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'association_app')"
        " THEN CREATE ROLE association_app LOGIN PASSWORD 'smoke'; END IF; END $$")
engine.dispose()
EOF
APP_ENV=development DATABASE_URL=$SMOKE_DATABASE_URL INSTANCE_PATH=$WORK/instance \
    "${FLASK[@]}" hosting grants association_app --apply >>"$WORK/migrate.log" 2>&1
APP_ENV=development DATABASE_URL=$SMOKE_DATABASE_URL INSTANCE_PATH=$WORK/instance \
    "${FLASK[@]}" hosting set-host MLK 127.0.0.1 >>"$WORK/migrate.log" 2>&1
APP_DATABASE_URL=$("$BIN/python" - "$SMOKE_DATABASE_URL" <<'EOF'
import sys

import sqlalchemy as sa

app_url = sa.make_url(sys.argv[1]).set(username="association_app", password="smoke")
engine = sa.create_engine(app_url)
with engine.connect() as conn:  # the app's role cannot rewrite a posting, even unchanged
    try:
        conn.exec_driver_sql("UPDATE association_mlk.posting SET amount_cents = amount_cents")
    except sa.exc.ProgrammingError as error:
        assert "permission denied" in str(error), error
    else:
        raise SystemExit("the app's role may UPDATE posting: the grants do not hold")
engine.dispose()
print(app_url.render_as_string(hide_password=False))
EOF
)

# --- a self-signed certificate for 127.0.0.1 ------------------------------------------------
mkdir -p "$WORK/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$WORK/tls/privkey.pem" -out "$WORK/tls/fullchain.pem" 2>/dev/null
chmod 600 "$WORK/tls/privkey.pem"

# --- the app's production settings ----------------------------------------------------------
export APP_ENV=production
export DATABASE_URL=$APP_DATABASE_URL
export INSTANCE_PATH=$WORK/instance
export TRUSTED_PROXIES=1
export PUBLIC_BASE_URL=https://127.0.0.1:$HTTPS_PORT
export MPESA_ENV=sandbox
export MPESA_BASE_URL=http://127.0.0.1:$SANDBOX_PORT
export MPESA_CONSUMER_KEY=smoke-key
export MPESA_CONSUMER_SECRET=smoke-secret
export MPESA_SHORTCODE
MPESA_SHORTCODE=$("$BIN/python" -c 'import config; print(config.SANDBOX_SHORTCODE)')
export MPESA_PASSKEY
MPESA_PASSKEY=$("$BIN/python" -c 'import config; print(config.SANDBOX_PASSKEY)')
MPESA_CALLBACK_TOKEN=$(openssl rand -hex 24)
export MPESA_CALLBACK_TOKEN
export PYTHONDONTWRITEBYTECODE=1

# --- the Daraja sandbox, gunicorn, the worker -------------------------------------------------
echo "== smoke: sandbox, gunicorn, worker"
# The sandbox posts callbacks to PUBLIC_BASE_URL (https through nginx, as Daraja does). It
# uses Python's default TLS checks, which read SSL_CERT_FILE: it trusts our certificate
# only. (The http port would not do: it answers a POST with a redirect, and a redirected
# POST arrives as a GET without its body.)
start sandbox "$WORK/sandbox.log" env SSL_CERT_FILE="$WORK/tls/fullchain.pem" \
    "${FLASK[@]}" mpesa sandbox --port "$SANDBOX_PORT" --delay 1
# The access log records the client address the app saw (after ProxyFix, REMOTE_ADDR is
# changed in place) and a probe header: no paths, so no callback token. Started from the
# checkout, as the README and the systemd unit start it: gunicorn reads ./gunicorn.conf.py.
start gunicorn "$WORK/gunicorn.log" "$BIN/gunicorn" --workers 2 --threads 4 \
    --bind "127.0.0.1:$APP_PORT" --no-control-socket \
    --access-logfile "$WORK/app-access.log" \
    --access-logformat '%(h)s %({x-smoke-probe}i)s %(s)s' wsgi:app
start worker "$WORK/worker.log" "${FLASK[@]}" worker

# --- nginx with the shipped site, the paths and ports of this test -----------------------------
echo "== smoke: nginx"
mkdir -p "$WORK/nginx"
sed -e "s|association\.example\.org|127.0.0.1|g" \
    -e "s|/etc/ssl/association/|$WORK/tls/|g" \
    -e "s|/srv/association|$ROOT|g" \
    -e "s|127\.0\.0\.1:8000|127.0.0.1:$APP_PORT|g" \
    -e "s|/var/log/nginx/association\.access\.log|$WORK/nginx/access.log|g" \
    -e "s|listen 443 ssl|listen 127.0.0.1:$HTTPS_PORT ssl|" \
    -e "s|listen 80;|listen 127.0.0.1:$HTTP_PORT;|" \
    -e "s|https://\$host\$request_uri|https://\$host:$HTTPS_PORT\$request_uri|" \
    deploy/nginx/association.conf >"$WORK/nginx/association.conf"
# Same directives, in the same order, as the shipped file: only values were changed.
directives() { sed -e 's/#.*//' "$1" | awk 'NF { print $1 }'; }
if ! diff <(directives deploy/nginx/association.conf) \
        <(directives "$WORK/nginx/association.conf") >/dev/null; then
    echo "the tested site's directives differ from deploy/nginx/association.conf" >&2
    exit 1
fi
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log info;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    client_body_temp_path $WORK/nginx/client_body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    include $WORK/nginx/association.conf;
}
EOF
NGINX_ARGS=(-p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log")
"$NGINX" -t -q "${NGINX_ARGS[@]}"
start nginx "$WORK/nginx.log" "$NGINX" "${NGINX_ARGS[@]}" -g "daemon off;"

# --- the checks, over HTTPS through nginx ----------------------------------------------------------
echo "== smoke: checks"
"$BIN/python" deploy/smoke/check.py \
    --base "https://127.0.0.1:$HTTPS_PORT" --http "http://127.0.0.1:$HTTP_PORT" \
    --cafile "$WORK/tls/fullchain.pem" \
    --nginx-log "$WORK/nginx/access.log" --app-log "$WORK/app-access.log" \
    --static "$ROOT/static" --app "http://127.0.0.1:$APP_PORT"
echo "== smoke: passed"
