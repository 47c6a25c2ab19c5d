#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Idempotent set-up on Debian 12: install every package migdp needs, then
# configure and build into build/ (or $MIGDP_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
	build-essential meson ninja-build pkg-config python3
	dpdk dpdk-dev libdpdk-dev libzstd-dev zstd libnuma-dev libcunit1-dev libjansson-dev
	libibverbs-dev libxxhash-dev
	clang libclang-rt-14-dev	# scripts/test.sh's fuzz stage: libFuzzer, ASan, UBSan
	iproute2 jq procps gnuplot-nox
	qemu-system-x86
	socat openssl	# tests/integration/qemu_relay_check.sh: the relay, QEMU's TLS credentials
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: missing packages (${missing[*]}); run as root to install them" >&2
		exit 1
	fi
	echo "setup: installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	echo "setup: all ${#PACKAGES[@]} packages already installed"
fi

BUILD=${MIGDP_BUILD_DIR:-build}
BUILDTYPE=${MIGDP_BUILDTYPE:-debugoptimized}
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" --buildtype="$BUILDTYPE"
fi
ninja -C "$BUILD"
