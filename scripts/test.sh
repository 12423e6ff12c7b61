#!/usr/bin/env bash
# Installs dependencies, builds (Release) and runs every test with ctest. GUI tests run offscreen.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
cd "$root/build"
ctest --output-on-failure --timeout 900 "$@"
