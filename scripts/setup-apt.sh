#!/usr/bin/env bash
# Debian packages the project needs beyond Python: the aarch64 cross compiler (target
# "linux-arm64": a static runner binary for phones/boards) and qemu-user (to run that binary
# on an x86-64 host in tests) and adb (the real adb server the device agent and its tests
# talk to; tests attach a simulated phone, device_agent/simphone) and chromium (the headless
# browser the dashboard tests drive through Playwright, tests/browser). For linux-arm64 also
# Debian's arm64 OpenBLAS, serial flavour, whose -dev package ships the static libopenblas.a
# the runner links (a multiarch install: the arm64 architecture is added to dpkg first; it
# brings libc6/libgcc-s1/libgfortran5 for arm64, which nothing on this host executes; the
# static link needs no libgfortran). Idempotent; a no-op when everything is present. Needs root
# (or sudo) and the Debian package registry, and fails when it cannot install them.
set -euo pipefail

PACKAGES=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross libgomp1-arm64-cross qemu-user adb chromium
          libopenblas-serial-dev:arm64)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "setup-apt: need root or sudo to install ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
