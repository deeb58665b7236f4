#!/usr/bin/env bash
# make demo: the built-in example fleet, end to end, in a throw-away folder.
set -euo pipefail
dir="$1"
mkdir -p "$dir"
cd "$dir"
git init -q -b main .
git config user.name "fluxfleet demo"
git config user.email "demo@fluxfleet.invalid"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# --- section:demo-fleet
# --- /section:demo-fleet

# --- section:demo-render
# --- /section:demo-render

# --- section:demo-check
# --- /section:demo-check

# --- section:demo-secrets
# --- /section:demo-secrets

# --- section:demo-promote
# --- /section:demo-promote

say "done: the example fleet is in $dir"
