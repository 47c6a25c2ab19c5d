# SPDX-License-Identifier: BSD-3-Clause
"""Write a boot floppy whose guest dirties memory forever: a running guest
for QEMU migration tests (scripts/lib/qemu_vm.sh --boot).

SeaBIOS loads the boot sector at 0x7c00 in real mode. The sector enables
A20, enters 32-bit protected mode (flat segments, interrupts off) and
loops (the pass count first set to 0): one pass stores an incrementing 32-bit counter in every word of
[START, START + SIZE), then adds one to the pass count, a 32-bit word at
physical address 0x600 (PASSES below). No interrupts, no I/O after boot:
the only state that changes is RAM, and all of it is rewritten every
pass, so a migration keeps finding those pages dirty.

Assembled at test time with GNU as and ld (binutils). Under TCG it boots
in a fraction of a second (about 25 passes a second over 32 MiB); this
machine's KVM (kvm_pvm, nested) never gets SeaBIOS to the boot sector.

  dirty_guest.py OUT [--start-mib 16] [--mib 32]
"""
import argparse
import os
import subprocess
import sys
import tempfile

PASSES = 0x600
FLOPPY = 1474560  # 1.44 MB: SeaBIOS and QEMU's floppy want a real geometry

SOURCE = r"""
	.code16
	.globl	_start
_start:
	cli
	xorw	%ax, %ax
	movw	%ax, %ds
	movw	%ax, %ss
	movw	$0x7c00, %sp
	inb	$0x92, %al		# fast A20 on (bit 0 would reset)
	orb	$2, %al
	andb	$0xfe, %al
	outb	%al, $0x92
	lgdtl	gdt_desc
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$0x08, $pm

	.code32
pm:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movl	$0x7c00, %esp
	xorl	%eax, %eax		# the counter
	movl	%eax, PASSES
pass:
	movl	$START, %edi
1:	movl	%eax, (%edi)
	incl	%eax
	addl	$4, %edi
	cmpl	$(START + SIZE), %edi
	jb	1b
	incl	PASSES
	jmp	pass

	.p2align 3
gdt:	.quad	0
	.quad	0x00cf9a000000ffff	# 0x08: code, flat 4 GiB, 32-bit
	.quad	0x00cf92000000ffff	# 0x10: data, flat 4 GiB
gdt_desc:
	.word	gdt_desc - gdt - 1
	.long	gdt

	.org	510
	.word	0xaa55
"""


def build(out, start, size):
    with tempfile.TemporaryDirectory() as d:
        src, obj, elf = (os.path.join(d, n) for n in ("g.s", "g.o", "g.elf"))
        with open(src, "w") as f:
            f.write(SOURCE)
        sym = [f"--defsym=START={start}", f"--defsym=SIZE={size}",
               f"--defsym=PASSES={PASSES}"]
        subprocess.run(["as", "--32", *sym, "-o", obj, src], check=True)
        subprocess.run(["ld", "-m", "elf_i386", "-Ttext=0x7c00", "-e", "_start",
                        "-o", elf, obj], check=True)
        subprocess.run(["objcopy", "-O", "binary", "-j", ".text", elf, obj], check=True)
        with open(obj, "rb") as f:
            sector = f.read()
    if len(sector) != 512 or sector[510:] != b"\x55\xaa":
        raise RuntimeError(f"boot sector of {len(sector)} bytes, no 0xaa55 signature")
    with open(out, "wb") as f:
        f.write(sector)
        f.truncate(FLOPPY)


def main():
    ap = argparse.ArgumentParser(description="boot floppy of a guest that dirties memory")
    ap.add_argument("out")
    ap.add_argument("--start-mib", type=int, default=16)
    ap.add_argument("--mib", type=int, default=32)
    o = ap.parse_args()
    if o.start_mib < 1 or o.mib < 1 or o.start_mib + o.mib > 3072:
        ap.error("the region must lie in [1 MiB, 3 GiB)")
    build(o.out, o.start_mib << 20, o.mib << 20)
    print(f"dirty_guest: {o.out}: stores a counter in [{o.start_mib}, "
          f"{o.start_mib + o.mib}) MiB, pass count at {PASSES:#x}", file=sys.stderr)


if __name__ == "__main__":
    main()
