/*
 * Context switch for i386 (System V i386 ABI, Linux and other ELF systems).
 *
 * Saved on the switching stack: the callee-saved ebx, esi, edi and ebp, the
 * x87 control word and MXCSR (SSE; every CPU since the Pentium III has it);
 * esp itself goes to *save. Frame, from the saved esp up:
 *
 *    0: mxcsr (4 bytes)   4: x87 control word (2), padding (2)
 *    8: edi   12: esi   16: ebx   20: ebp   24: return address
 */
    .text

/* int conc__ctx_switch(void **save, void *to): returns 0 when continued */
    .globl conc__ctx_switch
    .hidden conc__ctx_switch
    .type conc__ctx_switch, @function
    .p2align 4
conc__ctx_switch:
    .cfi_startproc
    movl 4(%esp), %eax
    movl 8(%esp), %edx
    pushl %ebp
    .cfi_adjust_cfa_offset 4
    .cfi_rel_offset %ebp, 0
    pushl %ebx
    .cfi_adjust_cfa_offset 4
    .cfi_rel_offset %ebx, 0
    pushl %esi
    .cfi_adjust_cfa_offset 4
    .cfi_rel_offset %esi, 0
    pushl %edi
    .cfi_adjust_cfa_offset 4
    .cfi_rel_offset %edi, 0
    subl $8, %esp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%esp)
    fnstcw 4(%esp)

    movl %esp, (%eax)
    movl %edx, %esp

    ldmxcsr (%esp)
    fldcw 4(%esp)
    addl $8, %esp
    .cfi_adjust_cfa_offset -8
    popl %edi
    .cfi_adjust_cfa_offset -4
    .cfi_restore %edi
    popl %esi
    .cfi_adjust_cfa_offset -4
    .cfi_restore %esi
    popl %ebx
    .cfi_adjust_cfa_offset -4
    .cfi_restore %ebx
    popl %ebp
    .cfi_adjust_cfa_offset -4
    .cfi_restore %ebp
    /* Pop and jump rather than ret: the target is another context's call
     * site, which the return-stack predictor never guesses. */
    popl %ecx
    .cfi_adjust_cfa_offset -4
    .cfi_register %eip, %ecx
    xorl %eax, %eax
    jmp *%ecx
    .cfi_endproc
    .size conc__ctx_switch, .-conc__ctx_switch

/* void *conc__ctx_make(void *lo, void *hi, void (*fn)(void *), void *arg) */
    .globl conc__ctx_make
    .hidden conc__ctx_make
    .type conc__ctx_make, @function
    .p2align 4
conc__ctx_make:
    .cfi_startproc
    movl 8(%esp), %eax
    subl $28, %eax
    stmxcsr (%eax)
    fnstcw 4(%eax)
    movw $0, 6(%eax)
    movl $0, 8(%eax)            /* edi */
    movl 12(%esp), %ecx
    movl %ecx, 12(%eax)         /* esi: fn */
    movl 16(%esp), %ecx
    movl %ecx, 16(%eax)         /* ebx: arg */
    movl $0, 20(%eax)           /* ebp: 0, the end of the frame-pointer chain */
    call 1f                     /* position-independent address of start */
1:  .cfi_adjust_cfa_offset 4
    popl %ecx
    .cfi_adjust_cfa_offset -4
    leal (conc__ctx_start - 1b)(%ecx), %ecx
    movl %ecx, 24(%eax)
    ret
    .cfi_endproc
    .size conc__ctx_make, .-conc__ctx_make

/*
 * The first code a new context runs, with esp == hi (16-byte aligned):
 * fn(arg), which never returns; the call keeps the ABI's 16-byte alignment.
 * The return address is "undefined", so unwinders stop here.
 */
    .type conc__ctx_start, @function
    .p2align 4
conc__ctx_start:
    .cfi_startproc
    .cfi_undefined %eip
    subl $12, %esp
    pushl %ebx
    call *%esi
    ud2
    .cfi_endproc
    .size conc__ctx_start, .-conc__ctx_start

    .section .note.GNU-stack, "", @progbits
