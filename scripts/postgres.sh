#!/usr/bin/env bash
# A private, throw-away PostgreSQL cluster for tollguard's tests.
#
#   scripts/postgres.sh start   # prints the SQLAlchemy URL on stdout (and nothing else)
#   scripts/postgres.sh stop    # stops the cluster and removes its data directory
#   scripts/postgres.sh pause   # stops the server, keeping its data (an outage, for tests)
#   scripts/postgres.sh resume  # starts it again on the same port
#
# Installs Debian's PostgreSQL when it is missing (as root, with apt-get), then runs initdb in a
# fresh temporary directory and starts the server on 127.0.0.1 on a free port, with a random
# password. Everything but the URL goes to stderr. `start` on a running cluster prints its URL
# again. State (data directory, port, password) is kept in var/postgres.env of the checkout.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE_DIR="${TOLLGUARD_PG_STATE_DIR:-$ROOT/var}"
STATE="$STATE_DIR/postgres.env"
DBNAME="tollguard"

log() { echo "postgres.sh: $*" >&2; }
die() { echo "postgres.sh: error: $*" >&2; exit 1; }

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

install_postgres() {
  [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed and we are not root to install it"
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is missing"
  log "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -qq postgresql >&2 || die "apt-get install postgresql failed"
}

# Run a command as the cluster owner: `postgres` when we are root (initdb refuses root).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- "$@"
    else
      su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

free_port() {
  local py
  py="$(command -v python3 || true)"
  [ -n "$py" ] || py="$ROOT/.venv/bin/python"
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

url() { echo "postgresql+psycopg://postgres:${PGPASS}@127.0.0.1:${PGPORT}/${DBNAME}"; }

is_running() {
  [ -f "$STATE" ] || return 1
  # shellcheck disable=SC1090
  . "$STATE"
  [ -n "${PGDATA_DIR:-}" ] && [ -d "$PGDATA_DIR/data" ] || return 1
  as_owner "$PGBIN/pg_ctl" status -D "$PGDATA_DIR/data" >/dev/null 2>&1
}

start() {
  if is_running; then
    log "already running on 127.0.0.1:$PGPORT"
    url
    return 0
  fi
  local bindir
  if ! bindir="$(find_bindir)"; then
    install_postgres
    bindir="$(find_bindir)" || die "initdb/pg_ctl not found under /usr/lib/postgresql/*/bin"
  fi
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "the 'postgres' system user does not exist"
  fi

  local dir port pass
  dir="$(mktemp -d "${TMPDIR:-/tmp}/tollguard-pg.XXXXXX")"
  port="$(free_port)"
  pass="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  mkdir -p "$dir/data" "$dir/socket"
  printf '%s\n' "$pass" >"$dir/pwfile"
  chmod 700 "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres "$dir"
  fi

  log "initdb in $dir/data ($bindir)"
  as_owner "$bindir/initdb" -D "$dir/data" --username=postgres --pwfile="$dir/pwfile" \
    --auth=scram-sha-256 --encoding=UTF8 --no-locale >&2 \
    || { rm -rf "$dir"; die "initdb failed"; }
  rm -f "$dir/pwfile"

  log "starting on 127.0.0.1:$port"
  if ! as_owner "$bindir/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir/socket -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >&2; then
    cat "$dir/server.log" >&2 2>/dev/null || true
    rm -rf "$dir"
    die "pg_ctl start failed"
  fi

  mkdir -p "$STATE_DIR"
  umask 077
  cat >"$STATE" <<EOF
PGBIN='$bindir'
PGDATA_DIR='$dir'
PGPORT='$port'
PGPASS='$pass'
EOF
  PGPORT="$port" PGPASS="$pass"

  PGPASSWORD="$pass" "$bindir/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DBNAME" >&2 \
    || { stop; die "could not create database $DBNAME"; }
  url
}

stop() {
  if [ ! -f "$STATE" ]; then
    log "no cluster recorded in $STATE; nothing to stop"
    return 0
  fi
  # shellcheck disable=SC1090
  . "$STATE"
  if [ -n "${PGDATA_DIR:-}" ] && [ -d "$PGDATA_DIR/data" ]; then
    as_owner "$PGBIN/pg_ctl" stop -D "$PGDATA_DIR/data" -m fast -w >&2 || log "pg_ctl stop failed"
  fi
  case "${PGDATA_DIR:-}" in
    */tollguard-pg.*) rm -rf "$PGDATA_DIR" ;;
  esac
  rm -f "$STATE"
  log "stopped"
}

server_options() {
  echo "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories=$PGDATA_DIR/socket -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
}

pause() {
  [ -f "$STATE" ] || die "no cluster recorded in $STATE"
  # shellcheck disable=SC1090
  . "$STATE"
  as_owner "$PGBIN/pg_ctl" stop -D "$PGDATA_DIR/data" -m immediate -w >&2 || die "pg_ctl stop failed"
  log "paused (data kept in $PGDATA_DIR)"
}

resume() {
  [ -f "$STATE" ] || die "no cluster recorded in $STATE"
  # shellcheck disable=SC1090
  . "$STATE"
  as_owner "$PGBIN/pg_ctl" start -w -t 60 -D "$PGDATA_DIR/data" -l "$PGDATA_DIR/server.log" \
    -o "$(server_options)" >&2 || die "pg_ctl start failed"
  log "resumed on 127.0.0.1:$PGPORT"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  pause) pause ;;
  resume) resume ;;
  *) die "usage: $0 start|stop|pause|resume" ;;
esac
