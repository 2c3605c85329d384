/*
 * Register-clobber helper of test_coro.c, one assembly block per ABI:
 *
 *   void test_coro_regs_call(void (*fn)(void *), void *arg,
 *                            const uintptr_t *in, uintptr_t *out);
 *
 * loads every callee-saved register of the ABI (integer, floating-point and
 * FP control state) from in[], calls fn(arg), stores the same registers to
 * out[] and restores the caller's. If fn() switches to another context that
 * loads other values and switches back, out[] == in[] proves the switch saved
 * and restored them all. CORO_REGS_N is the number of slots, coro_regs_mask[]
 * the bits compared (control registers have status bits), and
 * coro_regs_pattern() gives values that are valid for every slot.
 */
#ifndef CONC_TEST_CORO_REGS_H
#define CONC_TEST_CORO_REGS_H

#include <stdint.h>

void test_coro_regs_call(void (*fn)(void *), void *arg, const uintptr_t *in, uintptr_t *out);

#if defined(__x86_64__)
/* rbx rbp r12 r13 r14 r15, MXCSR, x87 control word. Only the rounding
 * modes differ between the two sides: Valgrind emulates those but not
 * precision control or flush-to-zero. */
#    define CORO_REGS_N 8
static const uintptr_t coro_regs_mask[CORO_REGS_N] = {
    UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, 0xffc0, 0x0f3f,
};
static inline uintptr_t coro_regs_pattern(int side, int i)
{
    if (i == 6)
        return side ? 0x5f80 : 0x3f80; /* MXCSR: round up / round down */
    if (i == 7)
        return side ? 0x0b7f : 0x077f; /* x87: round up / round down */
    return (uintptr_t)UINT64_C(0x5a17c0de00000000) + ((uintptr_t)side << 8) + (uintptr_t)i;
}
__asm__(".pushsection .text\n"
        ".globl test_coro_regs_call\n"
        ".type test_coro_regs_call, @function\n"
        "test_coro_regs_call:\n"
        "  pushq %rbp\n pushq %rbx\n pushq %r12\n pushq %r13\n pushq %r14\n pushq %r15\n"
        "  subq $32, %rsp\n"
        "  movq %rcx, (%rsp)\n"
        "  stmxcsr 8(%rsp)\n fnstcw 12(%rsp)\n"
        "  movq %rdi, %rax\n movq %rsi, %rdi\n"
        "  movq 0(%rdx), %rbx\n movq 8(%rdx), %rbp\n movq 16(%rdx), %r12\n"
        "  movq 24(%rdx), %r13\n movq 32(%rdx), %r14\n movq 40(%rdx), %r15\n"
        "  ldmxcsr 48(%rdx)\n fldcw 56(%rdx)\n"
        "  callq *%rax\n"
        "  movq (%rsp), %rcx\n"
        "  movq %rbx, 0(%rcx)\n movq %rbp, 8(%rcx)\n movq %r12, 16(%rcx)\n"
        "  movq %r13, 24(%rcx)\n movq %r14, 32(%rcx)\n movq %r15, 40(%rcx)\n"
        "  stmxcsr 48(%rcx)\n fnstcw 56(%rcx)\n"
        "  ldmxcsr 8(%rsp)\n fldcw 12(%rsp)\n"
        "  addq $32, %rsp\n"
        "  popq %r15\n popq %r14\n popq %r13\n popq %r12\n popq %rbx\n popq %rbp\n"
        "  ret\n"
        ".size test_coro_regs_call, .-test_coro_regs_call\n"
        ".popsection\n");

#elif defined(__i386__)
/* ebx esi edi ebp, MXCSR, x87 control word. */
#    define CORO_REGS_N 6
static const uintptr_t coro_regs_mask[CORO_REGS_N] = {
    UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, 0xffc0, 0x0f3f,
};
static inline uintptr_t coro_regs_pattern(int side, int i)
{
    if (i == 4)
        return side ? 0x5f80 : 0x3f80;
    if (i == 5)
        return side ? 0x0b7f : 0x077f;
    return (uintptr_t)0x5a170000u + ((uintptr_t)side << 8) + (uintptr_t)i;
}
/* Frame: 4 pushes + 28 bytes, so fn is at 48(%esp), arg 52, in 56, out 60. */
__asm__(".pushsection .text\n"
        ".globl test_coro_regs_call\n"
        ".type test_coro_regs_call, @function\n"
        "test_coro_regs_call:\n"
        "  pushl %ebp\n pushl %ebx\n pushl %esi\n pushl %edi\n"
        "  subl $28, %esp\n"
        "  stmxcsr 16(%esp)\n fnstcw 20(%esp)\n"
        "  movl 52(%esp), %eax\n movl %eax, (%esp)\n"
        "  movl 48(%esp), %ecx\n movl 56(%esp), %eax\n"
        "  movl 0(%eax), %ebx\n movl 4(%eax), %esi\n movl 8(%eax), %edi\n movl 12(%eax), %ebp\n"
        "  ldmxcsr 16(%eax)\n fldcw 20(%eax)\n"
        "  call *%ecx\n"
        "  movl 60(%esp), %eax\n"
        "  movl %ebx, 0(%eax)\n movl %esi, 4(%eax)\n movl %edi, 8(%eax)\n movl %ebp, 12(%eax)\n"
        "  stmxcsr 16(%eax)\n fnstcw 20(%eax)\n"
        "  ldmxcsr 16(%esp)\n fldcw 20(%esp)\n"
        "  addl $28, %esp\n"
        "  popl %edi\n popl %esi\n popl %ebx\n popl %ebp\n"
        "  ret\n"
        ".size test_coro_regs_call, .-test_coro_regs_call\n"
        ".popsection\n");

#elif defined(__aarch64__)
/* x19-x28, x29, then d8-d15 (bit patterns). */
#    define CORO_REGS_N 19
static const uintptr_t coro_regs_mask[CORO_REGS_N] = {
    UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX,
    UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX,
    UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX,
};
static inline uintptr_t coro_regs_pattern(int side, int i)
{
    return (uintptr_t)UINT64_C(0x5a17c0de00000000) + ((uintptr_t)side << 8) + (uintptr_t)i;
}
__asm__(".pushsection .text\n"
        ".globl test_coro_regs_call\n"
        ".type test_coro_regs_call, %function\n"
        "test_coro_regs_call:\n"
        "  stp x29, x30, [sp, #-176]!\n"
        "  mov x29, sp\n"
        "  stp x19, x20, [sp, #16]\n stp x21, x22, [sp, #32]\n stp x23, x24, [sp, #48]\n"
        "  stp x25, x26, [sp, #64]\n stp x27, x28, [sp, #80]\n"
        "  stp d8, d9, [sp, #96]\n stp d10, d11, [sp, #112]\n"
        "  stp d12, d13, [sp, #128]\n stp d14, d15, [sp, #144]\n"
        "  str x3, [sp, #160]\n"
        "  mov x9, x0\n mov x0, x1\n"
        "  ldp x19, x20, [x2, #0]\n ldp x21, x22, [x2, #16]\n ldp x23, x24, [x2, #32]\n"
        "  ldp x25, x26, [x2, #48]\n ldp x27, x28, [x2, #64]\n ldr x29, [x2, #80]\n"
        "  ldp d8, d9, [x2, #88]\n ldp d10, d11, [x2, #104]\n"
        "  ldp d12, d13, [x2, #120]\n ldp d14, d15, [x2, #136]\n"
        "  blr x9\n"
        "  ldr x3, [sp, #160]\n"
        "  stp x19, x20, [x3, #0]\n stp x21, x22, [x3, #16]\n stp x23, x24, [x3, #32]\n"
        "  stp x25, x26, [x3, #48]\n stp x27, x28, [x3, #64]\n str x29, [x3, #80]\n"
        "  stp d8, d9, [x3, #88]\n stp d10, d11, [x3, #104]\n"
        "  stp d12, d13, [x3, #120]\n stp d14, d15, [x3, #136]\n"
        "  ldp x19, x20, [sp, #16]\n ldp x21, x22, [sp, #32]\n ldp x23, x24, [sp, #48]\n"
        "  ldp x25, x26, [sp, #64]\n ldp x27, x28, [sp, #80]\n"
        "  ldp d8, d9, [sp, #96]\n ldp d10, d11, [sp, #112]\n"
        "  ldp d12, d13, [sp, #128]\n ldp d14, d15, [sp, #144]\n"
        "  ldp x29, x30, [sp], #176\n"
        "  ret\n"
        ".size test_coro_regs_call, .-test_coro_regs_call\n"
        ".popsection\n");

#elif defined(__arm__)
/* r4-r11, then d8-d15 as two words each. Valid in ARM and Thumb-2 state;
 * assembled in the compiler's state. */
#    define CORO_REGS_N 24
static const uintptr_t coro_regs_mask[CORO_REGS_N] = {
    UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX,
    UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX,
    UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX,
    UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX,
};
static inline uintptr_t coro_regs_pattern(int side, int i)
{
    return (uintptr_t)0x5a170000u + ((uintptr_t)side << 8) + (uintptr_t)i;
}
#    if defined(__thumb__)
#        define CORO_REGS_FUNC_TYPE ".thumb_func\n"
#    else
#        define CORO_REGS_FUNC_TYPE
#    endif
__asm__(".pushsection .text\n"
        ".syntax unified\n"
        ".align 2\n"
        ".globl test_coro_regs_call\n"
        ".type test_coro_regs_call, %function\n" CORO_REGS_FUNC_TYPE "test_coro_regs_call:\n"
        "  push {r3-r11, lr}\n"
        "  vpush {d8-d15}\n"
        "  mov ip, r0\n mov r0, r1\n"
        "  ldm r2!, {r4-r11}\n"
        "  vldm r2, {d8-d15}\n"
        "  blx ip\n"
        "  ldr r3, [sp, #64]\n"
        "  stm r3!, {r4-r11}\n"
        "  vstm r3, {d8-d15}\n"
        "  vpop {d8-d15}\n"
        "  pop {r3-r11, pc}\n"
        ".size test_coro_regs_call, .-test_coro_regs_call\n"
        ".popsection\n");

#elif defined(__riscv) && __riscv_xlen == 64
/* s0-s11, then fs0-fs11 (bit patterns). */
#    define CORO_REGS_N 24
static const uintptr_t coro_regs_mask[CORO_REGS_N] = {
    UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX,
    UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX,
    UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX,
    UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX, UINTPTR_MAX,
};
static inline uintptr_t coro_regs_pattern(int side, int i)
{
    return (uintptr_t)UINT64_C(0x5a17c0de00000000) + ((uintptr_t)side << 8) + (uintptr_t)i;
}
#    define CORO_REGS_RV_INT(op, base)                                                      \
        "  " op " s0, 0(" base ")\n  " op " s1, 8(" base ")\n  " op " s2, 16(" base ")\n"   \
        "  " op " s3, 24(" base ")\n  " op " s4, 32(" base ")\n  " op " s5, 40(" base ")\n" \
        "  " op " s6, 48(" base ")\n  " op " s7, 56(" base ")\n  " op " s8, 64(" base ")\n" \
        "  " op " s9, 72(" base ")\n  " op " s10, 80(" base ")\n  " op " s11, 88(" base ")\n"
#    define CORO_REGS_RV_FP(op, base)                                                             \
        "  " op " fs0, 96(" base ")\n  " op " fs1, 104(" base ")\n  " op " fs2, 112(" base ")\n"  \
        "  " op " fs3, 120(" base ")\n  " op " fs4, 128(" base ")\n  " op " fs5, 136(" base ")\n" \
        "  " op " fs6, 144(" base ")\n  " op " fs7, 152(" base ")\n  " op " fs8, 160(" base ")\n" \
        "  " op " fs9, 168(" base ")\n  " op " fs10, 176(" base ")\n  " op " fs11, 184(" base     \
        ")\n"
/* Frame: ra at 0, a3 (out) at 8, the caller's s/fs registers from 16. */
__asm__(".pushsection .text\n"
        ".globl test_coro_regs_call\n"
        ".type test_coro_regs_call, %function\n"
        "test_coro_regs_call:\n"
        "  addi sp, sp, -208\n"
        "  sd ra, 0(sp)\n sd a3, 8(sp)\n"
        "  addi t1, sp, 16\n" CORO_REGS_RV_INT("sd", "t1")
            CORO_REGS_RV_FP("fsd", "t1") "  mv t0, a0\n mv a0, a1\n" CORO_REGS_RV_INT("ld", "a2")
                CORO_REGS_RV_FP(
                    "fld", "a2") "  jalr t0\n"
                                 "  ld a3, 8(sp)\n" CORO_REGS_RV_INT("sd", "a3") CORO_REGS_RV_FP(
                                     "fsd", "a3") "  addi t1, sp, 16\n" CORO_REGS_RV_INT("ld", "t1")
                                     CORO_REGS_RV_FP(
                                         "fld",
                                         "t1") "  ld ra, 0(sp)\n"
                                               "  addi sp, sp, 208\n"
                                               "  ret\n"
                                               ".size test_coro_regs_call, .-test_coro_regs_call\n"
                                               ".popsection\n");

#else
#    define CORO_REGS_N 0
#endif

#endif /* CONC_TEST_CORO_REGS_H */
