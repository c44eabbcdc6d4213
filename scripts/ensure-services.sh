#!/usr/bin/env bash
# Makes sure the database services the integration tests use are running on this machine:
# PostgreSQL on 127.0.0.1:5432 (trust auth, max_connections >= 300 for the 200-connection burst
# test) and MariaDB on 127.0.0.1:3306 (max_connections >= 300, set at run time). Each part is
# skipped when ENTRA_IT_POSTGRES_URL / ENTRA_IT_MYSQL_URL points elsewhere.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_for_port() { # host port name
  for _ in $(seq 1 60); do
    if port_open "$1" "$2"; then return 0; fi
    sleep 1
  done
  echo "ensure-services: $3 did not come up on $1:$2" >&2
  return 1
}

pg_cluster_cmd() {
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
  if [ -z "$version" ] || ! command -v pg_ctlcluster >/dev/null; then
    echo "ensure-services: PostgreSQL is not installed here; set ENTRA_IT_POSTGRES_URL to a PostgreSQL server" >&2
    return 1
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main "$1"
}

if [ -z "${ENTRA_IT_POSTGRES_URL:-}" ]; then
  if ! port_open 127.0.0.1 5432; then
    echo "ensure-services: starting PostgreSQL"
    pg_cluster_cmd start
  fi
  wait_for_port 127.0.0.1 5432 PostgreSQL
  max=$(psql -h 127.0.0.1 -U postgres -d postgres -Atc "show max_connections" 2>/dev/null || echo 0)
  if [ "${max:-0}" -lt 300 ]; then
    echo "ensure-services: raising PostgreSQL max_connections from ${max} to 300 (restart)"
    psql -h 127.0.0.1 -U postgres -d postgres -qc "alter system set max_connections = 300"
    pg_cluster_cmd restart
    wait_for_port 127.0.0.1 5432 PostgreSQL
  fi
fi

if [ -z "${ENTRA_IT_MYSQL_URL:-}" ]; then
  if ! port_open 127.0.0.1 3306; then
    echo "ensure-services: starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  fi
  wait_for_port 127.0.0.1 3306 MariaDB
  for _ in $(seq 1 30); do
    mariadb -h 127.0.0.1 -u root -e "select 1" >/dev/null 2>&1 && break
    sleep 1
  done
  max=$(mariadb -h 127.0.0.1 -u root -N -e "select @@global.max_connections" 2>/dev/null || echo 0)
  if [ "${max:-0}" -lt 300 ]; then
    echo "ensure-services: raising MariaDB max_connections from ${max} to 400"
    mariadb -h 127.0.0.1 -u root -e "set global max_connections = 400"
  fi
fi
