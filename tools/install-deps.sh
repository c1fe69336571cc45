#!/usr/bin/env bash
# Installs every build, test and run dependency of Postdesk from Debian 12's archive.
# Idempotent: packages already present are left alone. Uses sudo when not root.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang lld
  # libraries (see CMakeLists.txt)
  libuv1-dev libssl-dev libhiredis-dev libspdlog-dev libfmt-dev
  libpcre2-dev nlohmann-json3-dev libtomlplusplus-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3 swaks openssl libnet-ssleay-perl libio-socket-ssl-perl
  # Postfix's smtp-sink (the relay in the SMTP client's tests) and smtp-source (bench/peers.sh);
  # preseeded below to "No configuration", so no system MTA is set up or started.
  postfix
  # HAProxy in front of the gateway (tests/integration/proxy_protocol_test.py, PROXY protocol);
  # Debian enables its service, which has nothing to serve until configured.
  haproxy
  # run
  redis-server
)

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "postfix postfix/main_mailer_type select No configuration" | sudo_ debconf-set-selections
  echo "installing: ${missing[*]}" >&2
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian starts a system-wide redis-server on installation; Postdesk never needs it (it starts its
# own child, or uses the [redis] url you configure), so a fresh install leaves it as Debian set it.
