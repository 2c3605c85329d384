/*
 * Context switch for 32-bit ARM (AAPCS, Linux gnueabihf and other ELF
 * systems), assembled as ARM or Thumb-2 code, whichever the compiler
 * targets (the instructions below are valid in both states).
 *
 * Saved on the switching stack: the callee-saved r4-r11, lr (the return
 * address), and, when the ABI has VFP registers, d8-d15; sp itself goes to
 * *save. r3 is pushed only to keep sp 8-byte aligned. Frame, from the saved
 * sp up (104 bytes; 40 without VFP, where the d registers are left out):
 *
 *     0: d8 ... 56: d15   64: r3   68: r4 ... 96: r11   100: return address
 */
    .syntax unified
    .text

#if defined(__thumb__)
    .thumb
#define FUNC_MODE .thumb_func
#define START_BIT 1
#else
    .arm
#define FUNC_MODE
#define START_BIT 0
#endif

/* d8-d15 exist (and are callee-saved) unless the target has no FPU. */
#if defined(__ARM_PCS_VFP) || (defined(__ARM_FP) && !defined(__SOFTFP__))
#define VFP(insn) insn
#define VFP_BYTES 64
#else
#define VFP(insn)
#define VFP_BYTES 0
#endif
#define FRAME_BYTES (VFP_BYTES + 40)

/* ARM's own unwinder (EHABI, used by backtrace()) and DWARF (gdb) both
 * describe these functions. */
    .cfi_sections .debug_frame

/* int conc__ctx_switch(void **save, void *to): returns 0 when continued */
    .globl conc__ctx_switch
    .hidden conc__ctx_switch
    .type conc__ctx_switch, %function
    .p2align 2
    FUNC_MODE
conc__ctx_switch:
    .fnstart
    .cfi_startproc
    push {r3-r11, lr}
    .save {r3-r11, lr}
    .cfi_adjust_cfa_offset 40
    .cfi_rel_offset lr, 36
    VFP(vpush {d8-d15})
    VFP(.vsave {d8-d15})
    .cfi_adjust_cfa_offset VFP_BYTES

    mov r2, sp
    str r2, [r0]
    mov sp, r1

    VFP(vpop {d8-d15})
    mov r0, #0
    pop {r3-r11, pc}
    .cfi_endproc
    .fnend
    .size conc__ctx_switch, .-conc__ctx_switch

/* void *conc__ctx_make(void *lo, void *hi, void (*fn)(void *), void *arg) */
    .globl conc__ctx_make
    .hidden conc__ctx_make
    .type conc__ctx_make, %function
    .p2align 2
    FUNC_MODE
conc__ctx_make:
    .fnstart
    .cfi_startproc
    sub r0, r1, #FRAME_BYTES
    mov ip, #0
1:  str ip, [r1, #-4]!          /* everything 0: r7 and r11 end the frame chain */
    cmp r1, r0
    bne 1b
    str r3, [r0, #(VFP_BYTES + 4)]      /* r4: arg */
    str r2, [r0, #(VFP_BYTES + 8)]      /* r5: fn */
    adr r1, .Lstart
    add r1, r1, #START_BIT      /* continue in this file's instruction set */
    str r1, [r0, #(VFP_BYTES + 36)]
    bx lr
    .cfi_endproc
    .fnend
    .size conc__ctx_make, .-conc__ctx_make

/*
 * The first code a new context runs, with sp == hi: fn(arg), which never
 * returns. Unwinders stop here: EHABI sees "cannot unwind", DWARF an
 * undefined return address.
 */
    .type conc__ctx_start, %function
    .p2align 2
    FUNC_MODE
conc__ctx_start:
.Lstart:
    .fnstart
    .cantunwind
    .cfi_startproc
    .cfi_undefined lr
    mov r0, r4
    blx r5
    udf #0
    .cfi_endproc
    .fnend
    .size conc__ctx_start, .-conc__ctx_start

    .section .note.GNU-stack, "", %progbits
