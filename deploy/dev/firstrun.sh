#!/usr/bin/env bash
# First `make run`: write ./var/homeserver.yaml and a signing key for server_name localhost,
# pointing at the private PostgreSQL cluster, with open registration and public_baseurl set to
# the address it serves (clients follow what /login advertises). Later runs keep both.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build/release/amtsbote}
[ -f var/homeserver.yaml ] && exit 0
eval "$(deploy/dev/pg.sh env)"
"$bin" generate-config --server-name localhost --out var/homeserver.yaml --port 8008 \
    --public-baseurl http://127.0.0.1:8008/ \
    --db-host "$PGHOST" --db-user "$PGUSER" --db-name amtsbote --open-registration
