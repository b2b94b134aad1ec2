#!/usr/bin/env bash
# `npm run bench` from a fresh clone: installs what the benchmark needs, as .ci/run does (Debian's
# nginx, openssl and blackbox_exporter; the npm dependencies), then runs bench/run.ts with the
# arguments given. Installs only as root with apt-get (.ci/install-packages); elsewhere it says
# what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# The same installer as .ci/run; without root it names what is missing, and the benchmark runs
# without what is optional (bench/run.ts checks for nginx and openssl itself).
bash .ci/install-packages openssl nginx prometheus-blackbox-exporter || true
[ -d node_modules ] || npm ci --no-audit --no-fund
exec node --import tsx bench/run.ts "$@"
