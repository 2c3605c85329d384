/*
 * Context switch for AArch64 (AAPCS64, Linux and other ELF systems).
 *
 * Saved on the switching stack: the callee-saved x19-x28, the frame pointer
 * x29, the link register x30 and the low halves d8-d15 of v8-v15 (all the
 * AAPCS64 asks a callee to preserve); sp itself goes to *save. Frame, from
 * the saved sp up (160 bytes, keeps sp 16-byte aligned):
 *
 *     0: x19 x20   16: x21 x22   32: x23 x24   48: x25 x26   64: x27 x28
 *    80: x29 x30   96: d8 d9    112: d10 d11  128: d12 d13  144: d14 d15
 */
    .text

/* int conc__ctx_switch(void **save, void *to): returns 0 when continued */
    .globl conc__ctx_switch
    .hidden conc__ctx_switch
    .type conc__ctx_switch, %function
    .p2align 4
conc__ctx_switch:
    .cfi_startproc
    sub sp, sp, #160
    .cfi_def_cfa_offset 160
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    .cfi_offset x29, -80
    .cfi_offset x30, -72
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]

    mov x2, sp
    str x2, [x0]
    mov sp, x1

    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #160
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    mov x0, #0
    ret
    .cfi_endproc
    .size conc__ctx_switch, .-conc__ctx_switch

/* void *conc__ctx_make(void *lo, void *hi, void (*fn)(void *), void *arg) */
    .globl conc__ctx_make
    .hidden conc__ctx_make
    .type conc__ctx_make, %function
    .p2align 4
conc__ctx_make:
    .cfi_startproc
    sub x0, x1, #160
    stp x3, x2, [x0, #0]        /* x19: arg, x20: fn */
    stp xzr, xzr, [x0, #16]
    stp xzr, xzr, [x0, #32]
    stp xzr, xzr, [x0, #48]
    stp xzr, xzr, [x0, #64]
    adr x4, conc__ctx_start
    stp xzr, x4, [x0, #80]      /* x29: 0 ends the frame chain; x30: start */
    stp xzr, xzr, [x0, #96]
    stp xzr, xzr, [x0, #112]
    stp xzr, xzr, [x0, #128]
    stp xzr, xzr, [x0, #144]
    ret
    .cfi_endproc
    .size conc__ctx_make, .-conc__ctx_make

/*
 * The first code a new context runs, with sp == hi: fn(arg), which never
 * returns. The return address is "undefined", so unwinders (gdb,
 * backtrace()) stop here.
 */
    .type conc__ctx_start, %function
    .p2align 4
conc__ctx_start:
    .cfi_startproc
    .cfi_undefined x30
    mov x0, x19
    blr x20
    brk #0
    .cfi_endproc
    .size conc__ctx_start, .-conc__ctx_start

    .section .note.GNU-stack, "", %progbits
