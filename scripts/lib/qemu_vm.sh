# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash disable=SC2034 # (QVM_* are for the caller)
# The two QEMU processes of a migration test (scripts/compare-qemu.sh,
# tests/integration/qemu_relay_check.sh): a pc machine whose RAM is a
# memory-backend-file, paused at start (-S), no devices but those asked
# for, QMP on a Unix socket, a pidfile. The destination waits for
# migrate-incoming (-incoming defer).
#
#   . scripts/lib/qemu_vm.sh
#   qvm_init [kvm|tcg]   QVM_QEMU, QVM_VERSION, QVM_ACCEL (kvm when /dev/kvm
#                        opens, else tcg; or as asked), QVM_ACCEL_ARGS
#   qvm_start ROLE DIR SIZE [OPTION...] [-- QEMU-ARG...]
#                        start QEMU in the background; QVM_PID is the job
#                        (a subshell that ends with QEMU: wait for it)
#   qvm_stop DIR ROLE    TERM, KILL after 3 s, to the pid in DIR/ROLE.pid
#
# ROLE is src or dst. Files: DIR/ROLE.qmp (QMP server), DIR/ROLE.pid,
# DIR/qemu-ROLE.log, DIR/ROLE-ram (the RAM, unless --ram-file). Options:
#   --ram-image IMG  the RAM file starts as a copy of IMG (shared: the
#                    guest's writes reach it, a test can read it)
#   --ram-file FILE  the RAM file is FILE itself (shared unless --private)
#   --private        share=off: the guest's writes never reach the file
#                    (without --ram-image or --ram-file: a fresh, sparse
#                    DIR/ROLE-ram of SIZE bytes, shared)
#   --ns NS          in network namespace NS (ip netns exec)
#   --tls DIR        tls-creds-x509 object tls0 from DIR (scripts/lib/
#                    tls_certs.sh): endpoint server, verify-peer=on, for dst;
#                    endpoint client for src
#   --boot IMG       a raw floppy to boot from, read-only (scripts/lib/
#                    dirty_guest.py); both sides need the same
#   --timeout SEC    QEMU is killed after SEC s (timeout(1))
#   --name NAME      -name (default migdp-ROLE)
# QEMU-ARGs go last on QEMU's command line.

qvm_init() { # [kvm|tcg]
	QVM_QEMU=$(command -v qemu-system-x86_64) || { echo "qvm: no qemu-system-x86_64" >&2; return 1; }
	QVM_VERSION=$("$QVM_QEMU" --version | sed -n '1s/.*version \([^ ]*\).*/\1/p')
	QVM_ACCEL=${1:-}
	if [ -z "$QVM_ACCEL" ]; then
		QVM_ACCEL=tcg
		(exec 3<>/dev/kvm) 2>/dev/null && QVM_ACCEL=kvm
	fi
	case $QVM_ACCEL in
	kvm) QVM_ACCEL_ARGS=(-accel kvm -cpu host) ;;
	tcg) QVM_ACCEL_ARGS=(-accel tcg) ;;
	*) echo "qvm: accelerator kvm or tcg, not $QVM_ACCEL" >&2; return 1 ;;
	esac
}

qvm_start() { # role dir size [option...] [-- qemu-arg...]
	local role=$1 dir=$2 size=$3 ram="" share=on ns="" tls="" boot="" timeout="" name=""
	local pre=() extra=()
	shift 3
	while [ $# -gt 0 ]; do
		case $1 in
		--ram-image)
			ram=$dir/$role-ram
			cp --sparse=always "$2" "$ram" || return 1
			shift ;;
		--ram-file) ram=$2; shift ;;
		--private) share=off ;;
		--ns) ns=$2; shift ;;
		--tls) tls=$2; shift ;;
		--boot) boot=$2; shift ;;
		--timeout) timeout=$2; shift ;;
		--name) name=$2; shift ;;
		--) shift; break ;;
		*) echo "qvm_start: unknown option $1" >&2; return 1 ;;
		esac
		shift
	done
	if [ -z "$ram" ]; then
		ram=$dir/$role-ram
		rm -f "$ram"
		truncate -s "$size" "$ram" || return 1
	fi
	[ "$role" = dst ] && extra+=(-incoming defer)
	if [ -n "$tls" ]; then
		if [ "$role" = dst ]; then
			extra+=(-object "tls-creds-x509,id=tls0,endpoint=server,dir=$tls,verify-peer=on")
		else
			extra+=(-object "tls-creds-x509,id=tls0,endpoint=client,dir=$tls")
		fi
	fi
	[ -n "$boot" ] && extra+=(-drive "file=$boot,format=raw,if=floppy,readonly=on")
	[ -n "$ns" ] && pre+=(ip netns exec "$ns")
	[ -n "$timeout" ] && pre+=(timeout "$timeout")
	rm -f "$dir/$role.pid" "$dir/$role.qmp"
	# In a subshell whose own stderr goes nowhere: a QEMU that a test
	# kills -9 on purpose prints no "Killed" line.
	{
		"${pre[@]}" "$QVM_QEMU" -name "${name:-migdp-$role}" \
			-nodefaults -no-user-config -display none -S "${QVM_ACCEL_ARGS[@]}" -smp 1 \
			-m "$((size >> 20))M" -object "memory-backend-file,id=ram0,size=$size,mem-path=$ram,share=$share,prealloc=on" \
			-machine pc,memory-backend=ram0 \
			-qmp "unix:$dir/$role.qmp,server=on,wait=off" -pidfile "$dir/$role.pid" \
			"${extra[@]}" "$@" >"$dir/qemu-$role.log" 2>&1
	} 2>/dev/null &
	QVM_PID=$!
}

qvm_stop() { # dir role
	local f=$1/$2.pid pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	kill "$pid" 2>/dev/null
	for ((i = 0; i < 30; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	rm -f "$f"
}
