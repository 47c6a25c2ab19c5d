/* SPDX-License-Identifier: BSD-3-Clause */
/* The guest's entry: migvm starts the vCPU here in 64-bit mode at CPL 3
 * (guest_abi.h); the stack is set again in case it did not. */
#include "guest_abi.h"

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	movq $MIGVM_STACK_TOP, %rsp
	cld
	call guest_main
1:	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
