# SPDX-License-Identifier: BSD-3-Clause
# Reserve 2 MiB hugepages for two migdp (1 GiB of EAL memory each) and
# guests of SIZE (two by default: a source and a destination), mounting
# hugetlbfs if needed; huge_restore puts the count back (huge_reserve sets
# it as the EXIT trap; a caller with its own EXIT trap calls it there).
# Source it, then: huge_reserve SIZE [GUESTS]. On failure it says how many
# pages are needed and how many could be had.
huge_restore() {
	[ -n "${HUGE_OLD:-}" ] && echo "$HUGE_OLD" >/proc/sys/vm/nr_hugepages
	HUGE_OLD=""
}

huge_reserve() {
	local guests=${2:-2} want
	HUGE_OLD=$(cat /proc/sys/vm/nr_hugepages)
	trap huge_restore EXIT
	want=$((1024 + guests * ($(numfmt --from=iec "$1") + 2097151) / 2097152 + 64))
	HUGE_WANT=$want
	if ! grep -q '^[^ ]* [^ ]* hugetlbfs' /proc/mounts; then
		mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages ||
			{ echo "hugepages: cannot mount hugetlbfs" >&2; return 1; }
	fi
	[ "$HUGE_OLD" -lt "$want" ] && echo "$want" >/proc/sys/vm/nr_hugepages 2>/dev/null
	if [ "$(cat /proc/sys/vm/nr_hugepages)" -lt "$want" ]; then
		echo "hugepages: $want pages of 2 MiB needed (two EALs of 1 GiB, $guests guests of $1), could reserve only $(cat /proc/sys/vm/nr_hugepages)" >&2
		return 1
	fi
}
