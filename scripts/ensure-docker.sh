#!/usr/bin/env bash
# Makes sure a Docker engine answers and the local test images exist, for the testcontainers pass of
# the integration suite (integration/test/*.container-conformance.test.ts, examples/testcontainers).
#
# - A Docker engine that answers already (Docker Desktop, a CI service) is used as it is.
# - Otherwise, as root on Debian: installs Debian's docker.io when dockerd is missing and starts
#   dockerd in the background (its log: /var/log/entra-db-dockerd.log).
# - Builds entra-local/postgres:17 and entra-local/mariadb:11 from Debian packages
#   (scripts/build-test-images.sh; kept between runs) unless ENTRA_IT_POSTGRES_IMAGE and
#   ENTRA_IT_MARIADB_IMAGE name images to use instead (the official ones where Docker Hub answers).
# - Removes containers a crashed earlier run left (testcontainers' Ryuk, which would do that, is an
#   image from Docker Hub and is disabled when the local images are used).
#
# When none of that works it says why and exits 0: the suites then say so and use the local
# services. With ENTRA_IT_CONTAINERS=required (CI) it exits 1 instead; with ENTRA_IT_CONTAINERS=off
# it does nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=${ENTRA_IT_CONTAINERS:-auto}
[ "$mode" = off ] && exit 0

give_up() {
  if [ "$mode" = required ]; then
    echo "ensure-docker: $1 (ENTRA_IT_CONTAINERS=required)" >&2
    exit 1
  fi
  echo "ensure-docker: $1; the testcontainers pass will use the local services instead" >&2
  exit 0
}

engine_answers() { timeout 5 docker info > /dev/null 2>&1; }

if ! engine_answers; then
  [ "$(id -u)" = 0 ] || give_up "no Docker engine answers and starting one needs root"
  if ! command -v dockerd > /dev/null; then
    command -v apt-get > /dev/null || give_up "no Docker engine answers and dockerd is not installed"
    echo "ensure-docker: installing Debian's docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q docker.io > /dev/null 2>&1 ||
      { apt-get update -q > /dev/null 2>&1 && apt-get install -y -q docker.io > /dev/null 2>&1; } ||
      give_up "installing docker.io failed"
  fi
  command -v docker > /dev/null || give_up "dockerd is installed but the docker client is not"
  echo "ensure-docker: starting dockerd"
  nohup dockerd > /var/log/entra-db-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    engine_answers && break
    sleep 0.5
  done
  engine_answers || give_up "dockerd did not answer within 30 s (see /var/log/entra-db-dockerd.log)"
fi

stale=$(docker ps --all --quiet --filter label=org.testcontainers=true)
if [ -n "$stale" ]; then
  echo "ensure-docker: removing $(echo "$stale" | wc -l) container(s) an earlier run left"
  docker rm --force $stale > /dev/null
fi

if [ -z "${ENTRA_IT_POSTGRES_IMAGE:-}" ] || [ -z "${ENTRA_IT_MARIADB_IMAGE:-}" ]; then
  bash "$here/build-test-images.sh" || give_up "building the local test images failed"
fi
