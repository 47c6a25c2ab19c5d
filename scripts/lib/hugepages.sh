# SPDX-License-Identifier: BSD-3-Clause
# Reserve 2 MiB hugepages for two migdp (1 GiB of EAL memory each) and
# guests of SIZE (two by default: a source and a destination), mounting
# hugetlbfs if needed. Pages others hold stay theirs: the count grows by
# what this run needs beyond what is free. huge_restore gives back what
# huge_reserve added; the caller calls it on exit (its own EXIT trap:
# huge_reserve sets none, so that it never replaces the caller's). On
# failure it says how many pages are needed and how many could be had.

# SIZE (digits, then K, M, G or T with or without "i"/"iB"/"B", any case;
# binary) in bytes; fails on anything else.
huge_size_bytes() {
	python3 - "$1" <<'PY'
import re, sys
m = re.fullmatch(r"([0-9]+)\s*([kKmMgGtT]?)(?:i?[bB])?", sys.argv[1])
if not m:
    sys.exit(1)
print(int(m.group(1)) << (10 * "_kmgt".index((m.group(2) or "_").lower())))
PY
}

huge_meminfo() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }

huge_restore() {
	if [ -n "${HUGE_OLD:-}" ]; then
		echo "$HUGE_OLD" >/proc/sys/vm/nr_hugepages
		HUGE_OLD=""
	fi
}

huge_reserve() {
	local guests=${2:-2} bytes total free want
	bytes=$(huge_size_bytes "$1") || { echo "hugepages: bad size '$1' (e.g. 512M, 1G)" >&2; return 1; }
	want=$((1024 + guests * ((bytes + 2097151) / 2097152) + 64))
	HUGE_WANT=$want
	if ! grep -q '^[^ ]* [^ ]* hugetlbfs' /proc/mounts; then
		mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages ||
			{ echo "hugepages: cannot mount hugetlbfs" >&2; return 1; }
	fi
	total=$(huge_meminfo HugePages_Total)
	free=$(huge_meminfo HugePages_Free)
	if [ "$free" -lt "$want" ]; then
		HUGE_OLD=$(cat /proc/sys/vm/nr_hugepages)
		echo $((total - free + want)) >/proc/sys/vm/nr_hugepages 2>/dev/null
	fi
	free=$(huge_meminfo HugePages_Free)
	if [ "$free" -lt "$want" ]; then
		echo "hugepages: $want free pages of 2 MiB needed (two EALs of 1 GiB, $guests guests of $1), $free could be had" >&2
		huge_restore
		return 1
	fi
}
