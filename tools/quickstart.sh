#!/usr/bin/env bash
# Sets up everything on a Debian 12 machine, builds Postdesk, and runs the gateway on its
# embedded default: SMTP on 127.0.0.1:2525, its own redis-server under ./var, the example
# brand "acme" (support@acme.test, help@acme.test). Ctrl-C drains and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -G Ninja -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
exec build/postdesk serve --config "${1:-postdesk.example.toml}"
