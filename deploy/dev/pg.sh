#!/usr/bin/env bash
# The private PostgreSQL 15 cluster for development and tests: ./var/pg, Unix socket only.
#
#   deploy/dev/pg.sh start    create on first use (initdb), then start; idempotent
#   deploy/dev/pg.sh stop     stop it
#   deploy/dev/pg.sh env      print PGHOST=... PGUSER=... for scripts and tests
#
# PostgreSQL refuses to run as root, so under root the cluster belongs to a dedicated system
# user (amtsbote-pg). If that user cannot reach ./var (a home directory of mode 0700, say), the
# data lives under /var/lib/amtsbote-dev/<hash of this checkout> and ./var/pg links to it.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PGBIN/initdb" ] || { echo "pg.sh: PostgreSQL server binaries not found (make deps)" >&2; exit 1; }
DBUSER=amtsbote
OWNER=$(id -un)
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u "$OWNER" -- "$@"; else "$@"; fi; }

setup_dirs() {
    mkdir -p var
    if [ "$(id -u)" = 0 ]; then
        OWNER=amtsbote-pg
        id "$OWNER" >/dev/null 2>&1 ||
            useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$OWNER"
        if [ ! -e var/pg ]; then
            if runuser -u "$OWNER" -- test -x "$top/var"; then
                mkdir -p var/pg
            else
                alt=/var/lib/amtsbote-dev/$(echo -n "$top" | sha256sum | cut -c1-12)
                mkdir -p "$alt"
                ln -s "$alt" var/pg
            fi
        fi
        chown "$OWNER" "$(readlink -f var/pg)"
    else
        mkdir -p var/pg
    fi
    PGDIR=$(readlink -f var/pg)
    SOCK=$PGDIR/run
    # sun_path is 108 bytes; keep room for "/.s.PGSQL.5432"
    if [ ${#SOCK} -gt 90 ]; then
        echo "pg.sh: socket path $SOCK too long; move the checkout to a shorter path" >&2
        exit 1
    fi
}

cmd=${1:-start}
setup_dirs
DATA=$PGDIR/data
LOG=$PGDIR/postgres.log

case "$cmd" in
start)
    if [ ! -f "$DATA/PG_VERSION" ]; then
        as_owner mkdir -p "$DATA" "$SOCK"
        as_owner "$PGBIN/initdb" -D "$DATA" -U "$DBUSER" --auth=trust -E UTF8 --lc-collate=C --lc-ctype=C.UTF-8 --lc-messages=C --lc-monetary=C --lc-numeric=C --lc-time=C >"$PGDIR/initdb.log" 2>&1 ||
            { cat "$PGDIR/initdb.log" >&2; exit 1; }
        cat >>"$DATA/postgresql.conf" <<CONF
# amtsbote development cluster: Unix socket only
listen_addresses = ''
unix_socket_directories = '$SOCK'
max_connections = 300
shared_buffers = 256MB
CONF
    fi
    as_owner mkdir -p "$SOCK"
    if ! as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null ||
            { tail -n 20 "$LOG" >&2; exit 1; }
    fi
    if ! "$PGBIN/psql" -h "$SOCK" -U "$DBUSER" -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname='amtsbote'" | grep -q 1; then
        "$PGBIN/createdb" -h "$SOCK" -U "$DBUSER" amtsbote
    fi
    ;;
stop)
    if [ -f "$DATA/PG_VERSION" ]; then
        as_owner "$PGBIN/pg_ctl" -D "$DATA" -w -m fast stop >/dev/null 2>&1 || true
    fi
    ;;
env)
    echo "PGHOST=$SOCK"
    echo "PGUSER=$DBUSER"
    echo "PGBIN=$PGBIN"
    ;;
*)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
