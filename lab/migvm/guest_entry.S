/* SPDX-License-Identifier: BSD-3-Clause */
/* The guest's entry: migvm starts the vCPU here in 32-bit protected mode
 * with flat segments; the stack is set again in case it did not. */
#include "guest_abi.h"

	.section .text.entry, "ax"
	.code32
	.globl _start
_start:
	movl $MIGVM_STACK_TOP, %esp
	cld
	call guest_main
1:	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
