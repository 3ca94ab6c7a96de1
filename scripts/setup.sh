#!/usr/bin/env bash
# Prepares a machine to build, test and run MasterDeal; safe to run again (each step checks first).
#   1. npm dependencies (npm install from the lock when node_modules is missing or older than package-lock.json)
#   2. Debian packages the stack and tests use (Java, Maven, python3-venv, kcat, chromium)
#   3. the local stack's downloads: Kafka and Apicurio from Maven Central, dbt into a venv from PyPI
#      (`masterdeal stack install`, cached in ~/.cache/masterdeal)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

# --- 1. npm -------------------------------------------------------------------------------
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  # Not `npm ci`: chdb lists optional per-platform libraries (darwin, arm64) that the npm registry
  # reachable here does not serve, and `npm ci` refuses a lock without them. `npm install` with the
  # lock installs the same versions and skips the unavailable optional ones.
  say "npm install from package-lock.json (node_modules missing or older than the lock)"
  npm install --no-audit --no-fund --no-save
else
  say "node_modules up to date"
fi

# --- 2. Debian packages -------------------------------------------------------------------
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v tar >/dev/null 2>&1 || missing+=(tar)
if ((${#missing[@]} > 0)); then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
      say "missing Debian packages: ${missing[*]} (not root and no sudo: install them yourself)"; exit 1
    fi
  fi
  say "apt-get install ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages present (java, mvn, python3-venv, kcat, chromium)"
fi

# --- 3. the local stack's artifacts -------------------------------------------------------
node scripts/masterdeal.mjs stack install
say "done"
