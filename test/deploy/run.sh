#!/usr/bin/env bash
# npm run test:deploy — the deployment end to end with Podman (test/deploy/e2e.deploy.ts).
# Installs what it needs (Debian packages; needs root or sudo). Podman runs as root with runc and
# cgroupfs (test/deploy/podman.ts writes its containers.conf); it never touches the host's
# networking: containers run in a pod on slirp4netns, ports published on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for c in podman debootstrap runc slirp4netns newuidmap fuse-overlayfs psql; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test:deploy: installing podman debootstrap runc slirp4netns uidmap fuse-overlayfs postgresql-client (missing: ${missing[*]})"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman debootstrap runc slirp4netns uidmap fuse-overlayfs postgresql-client >/dev/null
fi
if [ "$(id -u)" != 0 ]; then exec sudo -E "$(command -v npm)" run test:deploy; fi
node=node_modules/node/bin/node; [ -x "$node" ] || node=node
exec "$node" --disable-warning=ExperimentalWarning --test --test-timeout=1800000 test/deploy/e2e.deploy.ts
