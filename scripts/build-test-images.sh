#!/usr/bin/env bash
# Builds the local PostgreSQL 17 and MariaDB 11 images the testcontainers pass of the integration
# suite uses when no image registry is reachable (this project's CI machines reach Debian's package
# mirror and the npm registry only). One root file system from Debian trixie's packages
# (postgresql-17, mariadb-server) by mmdebstrap, imported into the Docker engine once, then two images
# from it that differ in their entrypoint (scripts/images/*-entrypoint.sh, the official images' env
# contract). The images carry a label with a hash of this recipe: an image built from the same recipe
# is kept, so a machine pays for the build once (about 45 s).
#
#   bash scripts/build-test-images.sh        # prints the two image names when done
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
POSTGRES_IMAGE=entra-local/postgres:17
MARIADB_IMAGE=entra-local/mariadb:11
LABEL=org.entra-db.test-image-recipe
recipe=$(cat "$0" "$here"/images/postgres-entrypoint.sh "$here"/images/mariadb-entrypoint.sh | sha256sum | cut -c1-16)

built_from_recipe() {
  [ "$(docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null)" = "$recipe" ]
}
if built_from_recipe "$POSTGRES_IMAGE" && built_from_recipe "$MARIADB_IMAGE"; then
  echo "build-test-images: $POSTGRES_IMAGE and $MARIADB_IMAGE are up to date (recipe $recipe)"
  exit 0
fi

if ! command -v mmdebstrap > /dev/null; then
  echo "build-test-images: installing mmdebstrap from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q mmdebstrap > /dev/null ||
    { apt-get update -q > /dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mmdebstrap > /dev/null; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
echo "build-test-images: building a Debian trixie root file system with postgresql-17 and mariadb-server"
mmdebstrap --quiet --variant=apt --include=postgresql-17,mariadb-server \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook="upload $here/images/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh" \
  --customize-hook="upload $here/images/mariadb-entrypoint.sh /usr/local/bin/mariadb-entrypoint.sh" \
  --customize-hook='chmod 755 "$1"/usr/local/bin/postgres-entrypoint.sh "$1"/usr/local/bin/mariadb-entrypoint.sh' \
  --customize-hook='rm -rf "$1"/var/lib/postgresql/17/main "$1"/etc/postgresql/17/main "$1"/var/lib/mysql/* "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  trixie "$work/rootfs.tar" http://deb.debian.org/debian
base=entra-local/db-base:$recipe
docker import "$work/rootfs.tar" "$base" > /dev/null

commit() { # image entrypoint cmd port
  local container
  container=$(docker create "$base" /bin/true)
  docker commit \
    --change "LABEL $LABEL=$recipe" \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENTRYPOINT [\"/usr/local/bin/$2\"]" \
    --change "CMD [\"$3\"]" \
    --change "EXPOSE $4" \
    "$container" "$1" > /dev/null
  docker rm "$container" > /dev/null
}
commit "$POSTGRES_IMAGE" postgres-entrypoint.sh postgres 5432
commit "$MARIADB_IMAGE" mariadb-entrypoint.sh mariadbd 3306
docker image rm "$base" > /dev/null 2>&1 || true
# Images of an earlier recipe lost their names to these: remove them.
docker image prune --force --filter "label=$LABEL" > /dev/null
echo "build-test-images: built $POSTGRES_IMAGE and $MARIADB_IMAGE in $(($(date +%s) - started)) s (recipe $recipe)"
