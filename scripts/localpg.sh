#!/usr/bin/env bash
# Throwaway local PostgreSQL cluster for libdsql tests, examples and benchmarks.
#
#   scripts/localpg.sh start    (re)create a fresh cluster and start it
#   scripts/localpg.sh stop     stop it (idempotent)
#   scripts/localpg.sh status   "running ..." (exit 0) or "stopped" (exit 3)
#   scripts/localpg.sh env      export lines: eval "$(scripts/localpg.sh env)"
#   scripts/localpg.sh restart  fast-stop and start the running cluster (same port and data),
#                               for tests of reconnection after a server restart
#
# State lives in ${LOCALPG_DIR:-<repo>/build/localpg}. The system cluster is never touched.
# Settings mimic Aurora DSQL: TLS with a throwaway CA, REPEATABLE READ by default, UTC,
# SCRAM passwords. Roles: postgres (superuser, trust), admin (superuser, trust),
# dsql_pw (password 'dsql-pw-secret', scram-sha-256 over TCP). Members of the NOLOGIN role
# dsql_scram also authenticate with scram-sha-256 over TCP (tests create such roles to check
# the exact password a client sends, e.g. an IAM token).
#
# Environment knobs: LOCALPG_DIR (state dir), PG_BIN (server binaries directory).
set -euo pipefail

readonly PROG="localpg"
readonly PW_USER="dsql_pw"
readonly PW_PASSWORD="dsql-pw-secret"
readonly ADMIN_USER="admin"
readonly TMP_PREFIX="/tmp/libdsql-localpg."

REPO="$(cd "$(dirname "$0")/.." && pwd)"
LOCALPG_DIR="${LOCALPG_DIR:-$REPO/build/localpg}"

# Never let the caller's libpq environment (e.g. a previous `eval "$(localpg.sh env)"`)
# steer the script's own connections or pg_ctl/initdb.
while read -r _v; do
    case "$_v" in
        PG_BIN) ;;
        PG*) unset "$_v" ;;
    esac
done < <(compgen -e)
unset _v

die() {
    echo "$PROG: error: $*" >&2
    exit 1
}

note() {
    echo "$PROG: $*" >&2
}

IS_ROOT=0
[[ "$(id -u)" == 0 ]] && IS_ROOT=1
SERVER_USER="$(id -un)"
RUNUSER=""
if (( IS_ROOT )); then
    SERVER_USER="postgres"
    for _c in "$(command -v runuser 2>/dev/null || true)" /usr/sbin/runuser /sbin/runuser; do
        if [[ -n "$_c" && -x "$_c" ]]; then
            RUNUSER="$_c"
            break
        fi
    done
    unset _c
    [[ -n "$RUNUSER" ]] || die "running as root but runuser is missing (apt-get install -y util-linux)"
fi

# Run a command as the server user (postgres when invoked as root). The working directory is
# switched to / so an unreachable caller cwd (e.g. under /root) does not upset initdb/pg_ctl.
# fd 9 (the start/stop lock) is closed so the postmaster never inherits the lock.
as_server() {
    if (( IS_ROOT )); then
        (cd / && "$RUNUSER" -u "$SERVER_USER" -- "$@") 9>&-
    else
        "$@" 9>&-
    fi
}

# Make a path owned by the server user (no-op when not root).
give_to_server() {
    if (( IS_ROOT )); then
        chown -R "$SERVER_USER:" "$@"
    fi
}

# ---------------------------------------------------------------------------------------------
# Binaries

find_pg_bin() {
    local d cand=""
    if [[ -n "${PG_BIN:-}" ]]; then
        [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]] \
            || die "PG_BIN=$PG_BIN does not contain initdb and pg_ctl"
        echo "$PG_BIN"
        return
    fi
    while read -r d; do
        if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
            cand="$d"
        fi
    done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -V)
    if [[ -z "$cand" ]] && command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
            cand="$d"
        fi
    fi
    if [[ -z "$cand" ]]; then
        {
            echo "$PROG: error: no PostgreSQL server binaries found (initdb, pg_ctl)."
            echo "  looked in: /usr/lib/postgresql/*/bin, \$PG_BIN, pg_config --bindir"
            echo "  install them with: sudo apt-get install -y postgresql   (or run scripts/deps.sh)"
        } >&2
        exit 1
    fi
    echo "$cand"
}

psql_bin() {
    if [[ -x "$PGBIN/psql" ]]; then
        echo "$PGBIN/psql"
    elif command -v psql >/dev/null 2>&1; then
        command -v psql
    else
        die "psql not found (sudo apt-get install -y postgresql-client)"
    fi
}

# ---------------------------------------------------------------------------------------------
# State layout
#
#   $LOCALPG_DIR/clusterdir   pointer: absolute path of the cluster directory (CDIR)
#   $LOCALPG_DIR/ca.crt       CA certificate for clients (PGSSLROOTCERT)
#   $LOCALPG_DIR/env          output of `env`
#   $LOCALPG_DIR/server.log   copy of the server log, saved by `stop`
#   CDIR = $LOCALPG_DIR/cluster, or /tmp/libdsql-localpg.XXXXXX when the server user cannot
#          reach $LOCALPG_DIR (or the socket path would be too long). Owned by the server user,
#          mode 700:
#   CDIR/data                 PGDATA
#   CDIR/tls/                 CA + server key/cert
#   CDIR/server.log           server log
#   CDIR/.s.PGSQL.<port>      unix socket
#   CDIR/owner                $LOCALPG_DIR (lets `start` find leftovers in /tmp)

resolve_localpg_dir() {
    mkdir -p "$LOCALPG_DIR" || die "cannot create LOCALPG_DIR=$LOCALPG_DIR"
    LOCALPG_DIR="$(cd "$LOCALPG_DIR" && pwd -P)"
}

# Cluster dir currently recorded for $LOCALPG_DIR (empty if none).
recorded_cdir() {
    local c=""
    if [[ -f "$LOCALPG_DIR/clusterdir" ]]; then
        c="$(head -n1 "$LOCALPG_DIR/clusterdir")"
    elif [[ -d "$LOCALPG_DIR/cluster" ]]; then
        c="$LOCALPG_DIR/cluster"
    fi
    # Only ever accept the two shapes we create; anything else is ignored (never rm -rf'd).
    case "$c" in
        */../* | */.. | *$'\n'*) ;;
        "$LOCALPG_DIR/cluster" | "$TMP_PREFIX"?*) echo "$c" ;;
        *) ;;
    esac
}

is_tmp_cdir() {
    [[ "$1" == "$TMP_PREFIX"?* ]]
}

# ---------------------------------------------------------------------------------------------
# Process handling

# PID of a live postmaster serving data dir $1, or nothing.
postmaster_pid() {
    local data="$1" pid cmd
    [[ -f "$data/postmaster.pid" ]] || return 0
    pid="$(head -n1 "$data/postmaster.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    [[ -r "/proc/$pid/cmdline" ]] || return 0
    cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    # The postmaster keeps its argv: .../postgres -D <data>. Guards against PID reuse.
    if [[ "$cmd" == *postgres* && "$cmd" == *"$data"* ]]; then
        echo "$pid"
    fi
}

# Direct children of PID $1.
children_of() {
    local parent="$1" st rest ppid
    for st in /proc/[0-9]*/stat; do
        rest="$(cat "$st" 2>/dev/null)" || continue
        rest="${rest##*) }"          # drop "pid (comm) "
        ppid="$(cut -d' ' -f2 <<<"$rest")"
        if [[ "$ppid" == "$parent" ]]; then
            st="${st#/proc/}"
            echo "${st%/stat}"
        fi
    done
}

# Processes whose cwd is data dir $1 (postgres processes chdir to PGDATA). Catches orphaned
# backends of a killed postmaster; silently finds nothing where /proc/*/cwd is unreadable.
procs_in_datadir() {
    local data="$1" p pid
    for p in /proc/[0-9]*; do
        if [[ "$(readlink "$p/cwd" 2>/dev/null || true)" == "$data" ]]; then
            pid="${p#/proc/}"
            if [[ "$pid" != "$$" ]]; then
                echo "$pid"
            fi
        fi
    done
}

wait_gone() {
    local pid="$1" i
    for ((i = 0; i < 150; i++)); do
        [[ -d "/proc/$pid" ]] || return 0
        # A zombie counts as gone.
        [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)" == Z ]] && return 0
        sleep 0.1
    done
    return 1
}

# Stop whatever runs from cluster dir $1; leaves no process behind.
stop_cluster() {
    local cdir="$1" data pid pids p
    data="$cdir/data"
    pid="$(postmaster_pid "$data")"
    if [[ -n "$pid" ]]; then
        if [[ -z "$PGBIN" ]]; then
            kill -INT "$pid" 2>/dev/null || true     # SIGINT = fast shutdown
        elif ! as_server "$PGBIN/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1; then
            note "fast shutdown failed, trying immediate"
            as_server "$PGBIN/pg_ctl" -D "$data" -m immediate -w -t 15 stop >/dev/null 2>&1 || true
        fi
        if [[ -d "/proc/$pid" ]] && ! wait_gone "$pid"; then
            note "postmaster $pid still alive, killing it"
            pids="$(children_of "$pid")"
            kill -KILL "$pid" 2>/dev/null || true
            for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
            wait_gone "$pid" || die "could not kill postmaster $pid"
        fi
    fi
    # Leftovers (orphaned backends of a crashed postmaster).
    if [[ -d "$data" ]]; then
        pids="$(procs_in_datadir "$(cd "$data" && pwd -P)")"
        if [[ -n "$pids" ]]; then
            for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
            for p in $pids; do wait_gone "$p" || true; done
        fi
    fi
}

remove_cdir() {
    local cdir="$1"
    [[ -n "$cdir" && -d "$cdir" ]] || return 0
    rm -rf -- "$cdir"
}

# Stop and remove every cluster belonging to $LOCALPG_DIR: the recorded one, the in-tree one,
# and leftovers in /tmp (recognised by their owner file).
cleanup_all() {
    local d cands=()
    d="$(recorded_cdir)"
    [[ -n "$d" ]] && cands+=("$d")
    cands+=("$LOCALPG_DIR/cluster")
    for d in "$TMP_PREFIX"*; do
        [[ -d "$d" && -f "$d/owner" ]] || continue
        [[ "$(head -n1 "$d/owner" 2>/dev/null || true)" == "$LOCALPG_DIR" ]] || continue
        cands+=("$d")
    done
    for d in "${cands[@]}"; do
        [[ -d "$d" ]] || continue
        stop_cluster "$d"
        remove_cdir "$d"
    done
    rm -f -- "$LOCALPG_DIR/clusterdir" "$LOCALPG_DIR/env" "$LOCALPG_DIR/ca.crt"
}

# ---------------------------------------------------------------------------------------------
# Helpers for start

port_in_use() {
    local port="$1"
    local ss
    ss="$(command -v ss 2>/dev/null || true)"
    [[ -z "$ss" && -x /usr/sbin/ss ]] && ss=/usr/sbin/ss
    [[ -z "$ss" && -x /sbin/ss ]] && ss=/sbin/ss
    if [[ -n "$ss" ]]; then
        [[ -n "$("$ss" -Hltn "sport = :$port" 2>/dev/null)" ]]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
    fi
}

pick_port() {
    local i port
    for ((i = 0; i < 50; i++)); do
        port=$(( ((RANDOM << 15) | RANDOM) % 40001 + 20000 ))
        if ! port_in_use "$port"; then
            echo "$port"
            return 0
        fi
    done
    die "could not find a free TCP port in 20000-60000"
}

# Quote a value for `export` lines, only when needed (keeps the env file readable).
shquote() {
    local v="$1"
    if [[ "$v" =~ ^[A-Za-z0-9_./:@%+=,-]+$ ]]; then
        printf '%s' "$v"
    else
        printf "'%s'" "${v//\'/\'\\\'\'}"
    fi
}

write_env() {
    local cdir="$1" port="$2" out="$LOCALPG_DIR/env" tmp
    tmp="$out.tmp.$$"
    {
        printf 'export %s=%s\n' \
            PGHOST localhost \
            PGHOSTADDR 127.0.0.1 \
            PGPORT "$port" \
            PGDATABASE postgres \
            PGUSER postgres \
            PGSSLMODE verify-full \
            PGSSLROOTCERT "$(shquote "$LOCALPG_DIR/ca.crt")" \
            LOCALPG_PW_USER "$PW_USER" \
            LOCALPG_PW_PASSWORD "$PW_PASSWORD" \
            LOCALPG_ADMIN_USER "$ADMIN_USER" \
            LOCALPG_SOCKET_DIR "$(shquote "$cdir")" \
            LOCALPG_CA "$(shquote "$LOCALPG_DIR/ca.crt")" \
            LOCALPG_PORT "$port" \
            LOCALPG_DIR "$(shquote "$LOCALPG_DIR")" \
            LOCALPG_DATA "$(shquote "$cdir/data")"
    } >"$tmp"
    mv -f -- "$tmp" "$out"
}

make_tls() {
    local tls="$1" serial
    mkdir -p "$tls"
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$tls/ca.key" -out "$tls/ca.crt" -days 3650 -sha256 \
        -subj "/CN=libdsql test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" >"$tls/openssl.log" 2>&1 \
        || { cat "$tls/openssl.log" >&2; die "openssl: CA generation failed"; }
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$tls/server.key" -out "$tls/server.csr" -subj "/CN=localhost" \
        >>"$tls/openssl.log" 2>&1 \
        || { cat "$tls/openssl.log" >&2; die "openssl: server key/CSR generation failed"; }
    printf '%s\n' \
        "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" \
        "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        "subjectKeyIdentifier=hash" \
        "authorityKeyIdentifier=keyid,issuer" >"$tls/server.ext"
    serial="0x$(openssl rand -hex 12)"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
        -set_serial "$serial" -days 3650 -sha256 -extfile "$tls/server.ext" \
        -out "$tls/server.crt" >>"$tls/openssl.log" 2>&1 \
        || { cat "$tls/openssl.log" >&2; die "openssl: server certificate signing failed"; }
    chmod 600 "$tls/ca.key" "$tls/server.key"
    chmod 644 "$tls/ca.crt" "$tls/server.crt"
}

# Create the cluster directory; prints its path.
make_cdir() {
    local cdir="$LOCALPG_DIR/cluster" reachable=1
    # Socket path must fit in sun_path (107 bytes): "<cdir>/.s.PGSQL.NNNNN".
    if (( ${#cdir} + 17 > 100 )); then
        reachable=0
    else
        mkdir -m 700 "$cdir"
        give_to_server "$cdir"
        if (( IS_ROOT )); then
            # The repo may live under a directory closed to other users (e.g. /root, mode 700).
            "$RUNUSER" -u "$SERVER_USER" -- test -x "$cdir" -a -w "$cdir" 2>/dev/null || reachable=0
        fi
        (( reachable )) || rmdir -- "$cdir"
    fi
    if (( ! reachable )); then
        cdir="$(mktemp -d "${TMP_PREFIX}XXXXXX")" || die "mktemp failed"
        chmod 700 "$cdir"
        give_to_server "$cdir"
    fi
    echo "$LOCALPG_DIR" >"$cdir/owner"
    echo "$cdir"
}

# ---------------------------------------------------------------------------------------------
# Commands

cmd_start() {
    local cdir data log port attempt pgctl_out="" started=0 psql line

    (( IS_ROOT )) && ! id -u "$SERVER_USER" >/dev/null 2>&1 \
        && die "running as root but user '$SERVER_USER' does not exist (install postgresql, or run as a non-root user)"
    command -v openssl >/dev/null 2>&1 || die "openssl CLI not found (sudo apt-get install -y openssl)"
    psql="$(psql_bin)"

    cleanup_all

    cdir="$(make_cdir)"
    echo "$cdir" >"$LOCALPG_DIR/clusterdir"
    data="$cdir/data"
    log="$cdir/server.log"

    # initdb
    if ! as_server "$PGBIN/initdb" -D "$data" --encoding=UTF8 --locale=C --auth=trust \
        --username=postgres --no-sync --no-instructions >"$cdir/initdb.log" 2>&1; then
        {
            echo "$PROG: error: initdb failed ($PGBIN/initdb -D $data); last lines of its output:"
            tail -n 25 "$cdir/initdb.log" | sed 's/^/  | /'
        } >&2
        exit 1
    fi

    # TLS material (generated by the invoking user, then handed to the server user).
    make_tls "$cdir/tls"

    # Settings close to Aurora DSQL.
    cat >>"$data/postgresql.conf" <<EOF

# ---- libdsql localpg settings ----
listen_addresses = '127.0.0.1'
port = 5432
unix_socket_directories = '$cdir'
max_connections = 400
default_transaction_isolation = 'repeatable read'
timezone = 'UTC'
log_timezone = 'UTC'
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = 'scram-sha-256'
ssl = on
ssl_cert_file = '$cdir/tls/server.crt'
ssl_key_file = '$cdir/tls/server.key'
ssl_ca_file = '$cdir/tls/ca.crt'
ssl_min_protocol_version = 'TLSv1.2'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
EOF

    cat >"$data/pg_hba.conf" <<'EOF'
# TYPE  DATABASE  USER     ADDRESS        METHOD
local   all       all                     trust
host    all       dsql_pw  127.0.0.1/32   scram-sha-256
host    all       +dsql_scram 127.0.0.1/32 scram-sha-256
host    all       all      127.0.0.1/32   trust
EOF

    give_to_server "$cdir"

    # Start; retry with another port if someone grabbed ours in the meantime.
    for ((attempt = 1; attempt <= 5; attempt++)); do
        port="$(pick_port)"
        sed -i -E "s/^port = [0-9]+$/port = $port/" "$data/postgresql.conf"
        : >"$log"
        give_to_server "$log" "$data/postgresql.conf"
        if pgctl_out="$(as_server "$PGBIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start 2>&1)"; then
            started=1
            break
        fi
        stop_cluster "$cdir"
        grep -qE 'could not (bind|create listen socket)|Address already in use' "$log" || break
        note "port $port was taken, retrying"
    done
    if (( ! started )); then
        {
            echo "$PROG: error: the PostgreSQL server failed to start (data dir $data)."
            echo "  pg_ctl said:"
            while IFS= read -r line; do echo "  | $line"; done <<<"$pgctl_out"
            echo "  last lines of $log:"
            tail -n 30 "$log" | sed 's/^/  | /'
        } >&2
        exit 1
    fi

    # Roles, over the unix socket as the superuser.
    if ! as_server "$psql" -X -q -v ON_ERROR_STOP=1 -h "$cdir" -p "$port" -U postgres -d postgres \
        -c "CREATE ROLE $PW_USER LOGIN PASSWORD '$PW_PASSWORD'" \
        -c "CREATE ROLE $ADMIN_USER LOGIN SUPERUSER" \
        -c "CREATE ROLE dsql_scram NOLOGIN" >"$cdir/roles.log" 2>&1; then
        cat "$cdir/roles.log" >&2
        die "creating roles failed"
    fi

    # Client-side files, owned by the invoking user.
    install -m 644 "$cdir/tls/ca.crt" "$LOCALPG_DIR/ca.crt"
    write_env "$cdir" "$port"

    echo "$PROG: running on 127.0.0.1:$port (data dir $data, socket dir $cdir); use: eval \"\$($0 env)\""
}

cmd_stop() {
    local cdir
    cdir="$(recorded_cdir)"
    if [[ -n "$cdir" && -d "$cdir" ]]; then
        stop_cluster "$cdir"
        # Keep the last server log around for post-mortems.
        if [[ -f "$cdir/server.log" ]]; then
            cp -f -- "$cdir/server.log" "$LOCALPG_DIR/server.log" 2>/dev/null || true
        fi
        if is_tmp_cdir "$cdir"; then
            remove_cdir "$cdir"
            rm -f -- "$LOCALPG_DIR/clusterdir"
        fi
    fi
    rm -f -- "$LOCALPG_DIR/env"
}

cmd_restart() {
    local info pid port cdir
    info="$(running_info)"
    [[ -n "$info" ]] || die "local PostgreSQL is not running (start it with: $0 start)"
    read -r pid port cdir <<<"$info"
    as_server "$PGBIN/pg_ctl" -D "$cdir/data" -l "$cdir/server.log" -m fast -w -t 60 restart \
        >/dev/null || die "pg_ctl restart failed (data dir $cdir/data); see $cdir/server.log"
    note "restarted on 127.0.0.1:$port"
}

# Prints "<pid> <port> <cdir>" if running, else nothing.
running_info() {
    local cdir pid port
    cdir="$(recorded_cdir)"
    [[ -n "$cdir" && -d "$cdir/data" ]] || return 0
    pid="$(postmaster_pid "$cdir/data")"
    [[ -n "$pid" ]] || return 0
    port="$(sed -n 4p "$cdir/data/postmaster.pid" 2>/dev/null || true)"
    echo "$pid $port $cdir"
}

cmd_status() {
    local info pid port cdir
    info="$(running_info)"
    if [[ -z "$info" ]]; then
        echo "stopped"
        exit 3
    fi
    read -r pid port cdir <<<"$info"
    echo "running (port $port, pid $pid, data dir $cdir/data)"
}

cmd_env() {
    local info pid port cdir
    info="$(running_info)"
    [[ -n "$info" ]] || die "local PostgreSQL is not running (start it with: $0 start)"
    read -r pid port cdir <<<"$info"
    [[ -f "$LOCALPG_DIR/ca.crt" ]] || die "$LOCALPG_DIR/ca.crt is missing; restart with: $0 start"
    [[ -f "$LOCALPG_DIR/env" ]] || write_env "$cdir" "$port"
    cat "$LOCALPG_DIR/env"
}

usage() {
    echo "usage: $0 start|stop|restart|status|env" >&2
    exit 2
}

# ---------------------------------------------------------------------------------------------

[[ $# -eq 1 ]] || usage
PGBIN=""
case "$1" in
    start | stop | restart)
        # Stopping something that was never started is a quiet no-op.
        [[ "$1" == stop && ! -d "$LOCALPG_DIR" ]] && exit 0
        resolve_localpg_dir
        if [[ "$1" != stop ]]; then
            PGBIN="$(find_pg_bin)"
        else
            PGBIN="$(find_pg_bin 2>/dev/null)" || PGBIN=""
        fi
        # Serialise start/stop on the same state directory.
        exec 9>"$LOCALPG_DIR/.startstop.lock"
        if command -v flock >/dev/null 2>&1; then
            flock -w 180 9 || die "timed out waiting for another $0 start/stop"
        fi
        "cmd_$1"
        ;;
    status | env)
        if [[ ! -d "$LOCALPG_DIR" ]]; then
            [[ "$1" == status ]] && { echo "stopped"; exit 3; }
            die "local PostgreSQL is not running (start it with: $0 start)"
        fi
        LOCALPG_DIR="$(cd "$LOCALPG_DIR" && pwd -P)"
        "cmd_$1"
        ;;
    *) usage ;;
esac
