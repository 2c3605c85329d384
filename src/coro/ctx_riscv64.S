/*
 * Context switch for RISC-V 64 (LP64D: Linux's ABI, with F and D).
 *
 * Saved on the switching stack: ra, the callee-saved s0-s11 and, with a
 * hard-float ABI, fs0-fs11; sp itself goes to *save. Frame, from the saved
 * sp up (208 bytes, keeps sp 16-byte aligned):
 *
 *     0: ra   8: s0 ... 96: s11   104: fs0 ... 192: fs11
 */
    .text

#if defined(__riscv_float_abi_double)
#define SAVE_FS(op, reg, off) op reg, off(sp)
#else
#define SAVE_FS(op, reg, off)
#endif

/* int conc__ctx_switch(void **save, void *to): returns 0 when continued */
    .globl conc__ctx_switch
    .hidden conc__ctx_switch
    .type conc__ctx_switch, %function
    .p2align 2
conc__ctx_switch:
    .cfi_startproc
    addi sp, sp, -208
    .cfi_def_cfa_offset 208
    sd ra, 0(sp)
    .cfi_offset ra, -208
    sd s0, 8(sp)
    .cfi_offset s0, -200
    sd s1, 16(sp)
    sd s2, 24(sp)
    sd s3, 32(sp)
    sd s4, 40(sp)
    sd s5, 48(sp)
    sd s6, 56(sp)
    sd s7, 64(sp)
    sd s8, 72(sp)
    sd s9, 80(sp)
    sd s10, 88(sp)
    sd s11, 96(sp)
    SAVE_FS(fsd, fs0, 104)
    SAVE_FS(fsd, fs1, 112)
    SAVE_FS(fsd, fs2, 120)
    SAVE_FS(fsd, fs3, 128)
    SAVE_FS(fsd, fs4, 136)
    SAVE_FS(fsd, fs5, 144)
    SAVE_FS(fsd, fs6, 152)
    SAVE_FS(fsd, fs7, 160)
    SAVE_FS(fsd, fs8, 168)
    SAVE_FS(fsd, fs9, 176)
    SAVE_FS(fsd, fs10, 184)
    SAVE_FS(fsd, fs11, 192)

    sd sp, 0(a0)
    mv sp, a1

    ld ra, 0(sp)
    ld s0, 8(sp)
    ld s1, 16(sp)
    ld s2, 24(sp)
    ld s3, 32(sp)
    ld s4, 40(sp)
    ld s5, 48(sp)
    ld s6, 56(sp)
    ld s7, 64(sp)
    ld s8, 72(sp)
    ld s9, 80(sp)
    ld s10, 88(sp)
    ld s11, 96(sp)
    SAVE_FS(fld, fs0, 104)
    SAVE_FS(fld, fs1, 112)
    SAVE_FS(fld, fs2, 120)
    SAVE_FS(fld, fs3, 128)
    SAVE_FS(fld, fs4, 136)
    SAVE_FS(fld, fs5, 144)
    SAVE_FS(fld, fs6, 152)
    SAVE_FS(fld, fs7, 160)
    SAVE_FS(fld, fs8, 168)
    SAVE_FS(fld, fs9, 176)
    SAVE_FS(fld, fs10, 184)
    SAVE_FS(fld, fs11, 192)
    addi sp, sp, 208
    .cfi_def_cfa_offset 0
    .cfi_restore ra
    .cfi_restore s0
    li a0, 0
    ret
    .cfi_endproc
    .size conc__ctx_switch, .-conc__ctx_switch

/* void *conc__ctx_make(void *lo, void *hi, void (*fn)(void *), void *arg) */
    .globl conc__ctx_make
    .hidden conc__ctx_make
    .type conc__ctx_make, %function
    .p2align 2
conc__ctx_make:
    .cfi_startproc
    addi a0, a1, -208
    mv t0, a0
1:  sd zero, 0(t0)              /* s0 (frame pointer) and the rest: 0 */
    addi t0, t0, 8
    bne t0, a1, 1b
    lla t1, conc__ctx_start
    sd t1, 0(a0)                /* ra: start */
    sd a3, 16(a0)               /* s1: arg */
    sd a2, 24(a0)               /* s2: fn */
    ret
    .cfi_endproc
    .size conc__ctx_make, .-conc__ctx_make

/*
 * The first code a new context runs, with sp == hi: fn(arg), which never
 * returns. The return address is "undefined", so unwinders (gdb,
 * backtrace()) stop here.
 */
    .type conc__ctx_start, %function
    .p2align 2
conc__ctx_start:
    .cfi_startproc
    .cfi_undefined ra
    mv a0, s1
    jalr s2
    unimp
    .cfi_endproc
    .size conc__ctx_start, .-conc__ctx_start

    .section .note.GNU-stack, "", %progbits
