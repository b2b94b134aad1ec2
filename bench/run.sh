#!/usr/bin/env bash
# `npm run bench` from a fresh clone: installs what the benchmark needs, as .ci/run does (Debian's
# nginx, openssl and blackbox_exporter; the npm dependencies), then runs bench/run.ts with the
# arguments given. Installs only as root with apt-get; elsewhere it says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x /usr/bin/prometheus-blackbox-exporter ] || missing+=(prometheus-blackbox-exporter)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} (apt-get) ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # A freshly installed package's daemon must not hold ports the benchmark picks.
    for svc in nginx prometheus-blackbox-exporter; do service "$svc" stop >/dev/null 2>&1 || true; done
  else
    echo "the benchmark wants ${missing[*]}: apt-get install -y ${missing[*]} (as root), or it runs without what is optional" >&2
  fi
fi
[ -d node_modules ] || npm ci --no-audit --no-fund
exec node --import tsx bench/run.ts "$@"
