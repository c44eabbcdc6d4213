#!/bin/sh
# Entrypoint of the local PostgreSQL 17 test image (scripts/build-test-images.sh), built from Debian's
# packages where no image registry is reachable. It keeps the official `postgres` image's contract, so
# testcontainers' PostgreSqlContainer and a user's own code work with either image unchanged:
# POSTGRES_USER (default postgres), POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust),
# POSTGRES_DB (default: the user), PGDATA, `postgres` flags as arguments (`-c max_connections=300`),
# port 5432 on every interface, and the first connection accepted only once initialisation is done.
set -eu
PGBIN=/usr/lib/postgresql/17/bin
PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA

case "${1:-}" in -*) set -- postgres "$@" ;; esac
[ $# -eq 0 ] && set -- postgres
[ "$1" = postgres ] || exec "$@"
shift

mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$method" != trust ]; then
    echo "postgres-entrypoint: POSTGRES_PASSWORD is empty; set it, or POSTGRES_HOST_AUTH_METHOD=trust" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-unused}" > "$pwfile"
  chown postgres "$pwfile"
  runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 \
    --auth-local=trust --auth-host="$method" > /dev/null
  rm -f "$pwfile"
  echo "host all all all $method" >> "$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    printf 'CREATE DATABASE "%s"\n' "$db" | runuser -u postgres -- "$PGBIN/postgres" --single -D "$PGDATA" -j postgres > /dev/null
  fi
  echo "postgres-entrypoint: initialised $PGDATA (user $user, database $db)"
fi

# `docker stop` sends SIGTERM, which PostgreSQL takes as a "smart" shutdown that waits for every client
# to leave; like the official image (STOPSIGNAL SIGINT) make it a fast one.
setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/postgres" -D "$PGDATA" -c listen_addresses='*' "$@" &
server=$!
trap 'kill -INT "$server"' TERM INT
wait "$server" || wait "$server"
