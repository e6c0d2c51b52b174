#!/usr/bin/env bash
# Debian packages that the test suite runs for real: an OCI registry (docker-registry),
# GnuPG (chart signing), Graphviz (`chartgen graph --format svg|png`) and git (release
# baselines). Installs them only when missing.
set -euo pipefail
need=()
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v gpg >/dev/null 2>&1 || need+=(gnupg)
command -v dot >/dev/null 2>&1 || need+=(graphviz)
command -v git >/dev/null 2>&1 || need+=(git)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install_system_deps: need ${need[*]} (Debian packages); install them as root" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_system_deps: need ${need[*]}; no apt-get here, install them with your package manager" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
