# SPDX-License-Identifier: BSD-3-Clause
# Reserve 2 MiB hugepages for two migdp (1 GiB of EAL memory each) and two
# guests of SIZE, mounting hugetlbfs if needed; the count is restored when
# the script exits. Source it, then: huge_reserve SIZE
huge_reserve() {
	local want
	HUGE_OLD=$(cat /proc/sys/vm/nr_hugepages)
	trap 'echo "$HUGE_OLD" >/proc/sys/vm/nr_hugepages' EXIT
	want=$((1024 + 2 * $(numfmt --from=iec "$1") / 2097152 + 64))
	if ! grep -q '^[^ ]* [^ ]* hugetlbfs' /proc/mounts; then
		mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages ||
			{ echo "bench: cannot mount hugetlbfs" >&2; return 1; }
	fi
	[ "$HUGE_OLD" -lt "$want" ] && echo "$want" >/proc/sys/vm/nr_hugepages
	if [ "$(cat /proc/sys/vm/nr_hugepages)" -lt "$want" ]; then
		echo "bench: could reserve only $(cat /proc/sys/vm/nr_hugepages) of $want hugepages; use --no-hugepages" >&2
		return 1
	fi
}
