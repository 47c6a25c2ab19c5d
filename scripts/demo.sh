#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The main job: build if needed, then migrate a generated 1 GiB guest from a
# source migdp to a destination migdp over memif on this machine, with a
# progress line per second, a short summary, and the JSON report last.
# Extra arguments go to scripts/migrate-image.sh (e.g. --channels 2,
# --link veth, --mtu 1500, --fault drop=0.02).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MIGDP_BUILD_DIR:-$TOP/build}
if [ ! -x "$BUILD/control/migdp" ] || [ ! -x "$BUILD/lab/migguest" ]; then
	"$TOP/scripts/setup.sh" || exit 1
fi
echo "demo: migrating a 1 GiB guest (30% zero, 30% text, 25% binary, 15% random pages)" >&2
echo "demo: source migdp -> net_memif -> destination migdp; guest memory is shared, never copied into migdp" >&2
exec "$TOP/scripts/migrate-image.sh" --mem 1G --channels 2 --progress "$@"
