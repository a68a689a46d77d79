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

# A free loopback port below the kernel's ephemeral range (as WatchTesting.freePort): a server
# restarted on its port (pg-cluster restart) cannot lose it meanwhile to a bind to port 0 or to
# the local end of a connection, which the kernel takes from that range.
free_port() {
    python3 - <<'PY'
import random, socket
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except Exception:
    low = 32768
top = max(min(low, 65536), 2048)
ports = list(range(max(1024, top - 16384), top))
random.shuffle(ports)
for port in ports:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("no free loopback port")
PY
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

# noida-db (PyPI), the local Kafka-protocol broker in its own process, pinned; installed into
# the project-local virtualenv .venv when missing. Sets NOIDA_BIN to its binary (the Python
# package's launcher only starts it; the binary itself is what the scripts and tests run, so a
# signal reaches the broker). Its stderr line about GLIBC_2.39 is harmless on Debian 12.
NOIDA_VERSION=0.2.3
ensure_noida() {
    local venv=.venv
    if ! "$venv/bin/python" -c "import noida_db" 2>/dev/null \
        || [ "$("$venv/bin/python" -m pip show noida-db 2>/dev/null | sed -n 's/^Version: //p')" != "$NOIDA_VERSION" ]; then
        log "installing noida-db $NOIDA_VERSION into $venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install -q "noida-db==$NOIDA_VERSION"
    fi
    NOIDA_BIN="$(cd "$("$venv/bin/python" -c 'import noida_db, os; print(os.path.dirname(noida_db.__file__))')" && pwd)/noida-db"
    export NOIDA_BIN
}

# Starts a noida-db Kafka broker on a free port with its data in a temp dir; exports
# NOIDA_BOOTSTRAP. Stopped by stop_noida.
start_noida() {
    local port
    port=$(free_port)
    NOIDA_DIR=$(mktemp -d /tmp/unrip-noida.XXXXXX)
    "$NOIDA_BIN" start --data-dir "$NOIDA_DIR/data" --host 127.0.0.1 --only kafka --kafka-port "$port" \
        >"$NOIDA_DIR/broker.log" 2>&1 </dev/null &
    NOIDA_PID=$!
    for _ in $(seq 1 100); do
        (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill -0 "$NOIDA_PID" 2>/dev/null || { cat "$NOIDA_DIR/broker.log" >&2; log "noida-db exited"; return 1; }
        sleep 0.1
    done
    export NOIDA_BOOTSTRAP="127.0.0.1:$port"
    log "Kafka broker (noida-db $NOIDA_VERSION) at $NOIDA_BOOTSTRAP"
}

stop_noida() {
    if [ -n "${NOIDA_PID:-}" ]; then
        kill -TERM "$NOIDA_PID" 2>/dev/null && wait "$NOIDA_PID" 2>/dev/null || true
        NOIDA_PID=""
    fi
    [ -n "${NOIDA_DIR:-}" ] && rm -rf "$NOIDA_DIR"
    return 0
}

# A real Litecoin Core node (Debian's litecoind, 0.21) in regtest, in a temp dir on free ports
# below the ephemeral range, with a wallet `demo` holding mature coins (101 blocks mined).
# Exports LTC_RPC_URL and LTC_COOKIE (cookie auth); ltc_cli runs litecoin-cli against it.
# Stopped by stop_litecoind.
start_litecoind() {
    LTC_DIR=$(mktemp -d /tmp/unrip-ltc.XXXXXX)
    local rpc p2p
    rpc=$(free_port)
    p2p=$(free_port)
    while [ "$p2p" = "$rpc" ]; do p2p=$(free_port); done
    LTC_ARGS=(-regtest "-datadir=$LTC_DIR" "-rpcport=$rpc")
    litecoind "${LTC_ARGS[@]}" -server=1 -rest=1 -rpcbind=127.0.0.1 -rpcallowip=127.0.0.1 "-port=$p2p" -bind=127.0.0.1 \
        -connect=0 -dnsseed=0 -discover=0 -fallbackfee=0.0002 -mempoolreplacement=1 -walletrbf=1 -printtoconsole=0 -daemon=1 >/dev/null \
        || return 1
    for _ in $(seq 1 300); do ltc_cli getblockchaininfo >/dev/null 2>&1 && break; sleep 0.1; done
    ltc_cli getblockchaininfo >/dev/null || { tail -20 "$LTC_DIR/regtest/debug.log" >&2; return 1; }
    ltc_cli createwallet demo >/dev/null
    ltc_cli generatetoaddress 101 "$(ltc_cli getnewaddress)" >/dev/null
    export LTC_RPC_URL="http://127.0.0.1:$rpc"
    export LTC_COOKIE="$LTC_DIR/regtest/.cookie"
    log "litecoind (regtest) running at $LTC_RPC_URL (data in $LTC_DIR)"
}

ltc_cli() { litecoin-cli "${LTC_ARGS[@]}" "$@"; }

stop_litecoind() {
    if [ -n "${LTC_DIR:-}" ] && [ -d "$LTC_DIR" ]; then
        ltc_cli stop >/dev/null 2>&1 || true
        for _ in $(seq 1 100); do [ -e "$LTC_DIR/regtest/litecoind.pid" ] || break; sleep 0.1; done
        rm -rf "$LTC_DIR"
    fi
}
