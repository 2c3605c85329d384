/*
 * Context switch for x86_64, System V ABI (Linux, the BSDs).
 *
 * Saved on the switching stack: the callee-saved registers rbx, rbp and
 * r12-r15, the MXCSR control/status register and the x87 control word (both
 * "callee-saved" control state in the ABI); rsp itself goes to *save.
 * Frame, from the saved rsp up:
 *
 *   0: mxcsr (4 bytes), x87 control word (2), padding (2)
 *   8: r15   16: r14   24: r13   32: r12   40: rbx   48: rbp   56: return address
 *
 * The CFI below describes this frame at every instruction; it stays true
 * across the stack swap because both stacks hold the same layout.
 */
    .text

/* int conc__ctx_switch(void **save, void *to): returns 0 when continued.
 * In .text.hot, beside the C code of the switch path (coro.c). */
    .section .text.hot.conc__ctx_switch,"ax",@progbits
    .globl conc__ctx_switch
    .hidden conc__ctx_switch
    .type conc__ctx_switch, @function
    .p2align 4
conc__ctx_switch:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw 4(%rsp)

    movq %rsp, (%rdi)
    movq %rsi, %rsp

    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r15
    popq %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r14
    popq %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r13
    popq %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r12
    popq %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbx
    popq %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp
    /* Return by pop and jump rather than ret: the target is another
     * context's call site, which the return-stack predictor never guesses. */
    popq %rcx
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rcx
    xorl %eax, %eax
    jmp *%rcx
    .cfi_endproc
    .size conc__ctx_switch, .-conc__ctx_switch

    .text

/* void *conc__ctx_make(void *lo, void *hi, void (*fn)(void *), void *arg) */
    .globl conc__ctx_make
    .hidden conc__ctx_make
    .type conc__ctx_make, @function
    .p2align 4
conc__ctx_make:
    .cfi_startproc
    leaq -64(%rsi), %rax
    stmxcsr (%rax)
    fnstcw 4(%rax)
    movw $0, 6(%rax)
    xorl %r8d, %r8d
    movq %r8, 8(%rax)           /* r15 */
    movq %r8, 16(%rax)          /* r14 */
    movq %r8, 24(%rax)          /* r13 */
    movq %rdx, 32(%rax)         /* r12: fn */
    movq %rcx, 40(%rax)         /* rbx: arg */
    movq %r8, 48(%rax)          /* rbp: 0, the end of the frame-pointer chain */
    leaq conc__ctx_start(%rip), %r9
    movq %r9, 56(%rax)
    ret
    .cfi_endproc
    .size conc__ctx_make, .-conc__ctx_make

/*
 * The first code a new context runs, with rsp == hi (16-byte aligned):
 * fn(arg), which never returns. Its return address is "undefined", so
 * unwinders (gdb, backtrace()) stop here instead of walking off the stack.
 */
    .type conc__ctx_start, @function
    .p2align 4
conc__ctx_start:
    .cfi_startproc
    .cfi_undefined %rip
    movq %rbx, %rdi
    callq *%r12
    ud2
    .cfi_endproc
    .size conc__ctx_start, .-conc__ctx_start

    .section .note.GNU-stack, "", @progbits
