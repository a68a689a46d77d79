# Shared by scripts/test and scripts/demo: install what is missing, start a throwaway PostgreSQL.
# shellcheck shell=bash

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

# Installs the Debian packages the build and tests need (and any named as arguments), only
# those missing.
ensure_packages() {
    local wanted=(libpq-dev librdkafka-dev libzmq3-dev libcurl4-openssl-dev postgresql pkg-config "$@")
    local missing=()
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

pg_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$d" ]; then echo "$d"; else dirname "$(command -v initdb)"; fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts a throwaway cluster in a temp dir on a free port; exports PG_URL. Stopped by stop_postgres.
start_postgres() {
    local bin user port
    bin=$(pg_bin)
    PG_DIR=$(mktemp -d /tmp/unrip-pg.XXXXXX)
    port=$(free_port)
    user=$(id -un)
    local run=()
    if [ "$(id -u)" -eq 0 ]; then
        # initdb refuses to run as root: the cluster belongs to the postgres user.
        chown postgres "$PG_DIR"
        run=(runuser -u postgres --)
        user=postgres
    fi
    "${run[@]}" "$bin/initdb" -D "$PG_DIR/data" -U "$user" -A trust -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; return 1; }
    "${run[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
        -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
        || { cat "$PG_DIR/server.log" >&2; return 1; }
    PG_RUN=("${run[@]}")
    PG_BINDIR=$bin
    export PG_URL="postgresql://$user@127.0.0.1:$port/postgres"
    log "PostgreSQL running at $PG_URL (data in $PG_DIR)"
}

stop_postgres() {
    if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
        "${PG_RUN[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
}

# Starts librdkafka's mock cluster (unrip-kafka-mock, built by `swift build`) with the given
# topics; exports KAFKA_MOCK_BOOTSTRAP (host:port). Stopped by stop_kafka_mock.
start_kafka_mock() {
    local bin="$1"; shift
    local args=()
    for t in "$@"; do args+=(--topic "$t"); done
    KAFKA_MOCK_OUT=$(mktemp /tmp/unrip-kafka-mock.XXXXXX)
    "$bin" "${args[@]}" >"$KAFKA_MOCK_OUT" 2>/dev/null </dev/null &
    KAFKA_MOCK_PID=$!
    local line=""
    for _ in $(seq 1 100); do
        line=$(head -n 1 "$KAFKA_MOCK_OUT" 2>/dev/null || true)
        [ -n "$line" ] && break
        kill -0 "$KAFKA_MOCK_PID" 2>/dev/null || { log "unrip-kafka-mock exited"; return 1; }
        sleep 0.1
    done
    [ -n "$line" ] || { log "unrip-kafka-mock printed no address"; return 1; }
    export KAFKA_MOCK_BOOTSTRAP="$line"
    log "Kafka mock cluster at $KAFKA_MOCK_BOOTSTRAP"
}

stop_kafka_mock() {
    if [ -n "${KAFKA_MOCK_PID:-}" ]; then
        kill -TERM "$KAFKA_MOCK_PID" 2>/dev/null && wait "$KAFKA_MOCK_PID" 2>/dev/null || true
        KAFKA_MOCK_PID=""
    fi
    [ -n "${KAFKA_MOCK_OUT:-}" ] && rm -f "$KAFKA_MOCK_OUT"
    return 0
}
