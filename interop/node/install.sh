#!/bin/sh
# Installs the pinned AWS IoT Device SDK v2 for JavaScript for the interop tests,
# exactly as package-lock.json records it. aws-crt ships prebuilt native addons in
# its npm package, so install scripts are not run and nothing is compiled.
set -eu
cd "$(dirname "$0")"
exec npm ci --no-audit --no-fund --ignore-scripts
