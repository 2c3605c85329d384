/*
 * Other CPUs: the fast side's sequentially consistent load already orders
 * (AArch64's ldar after stlr) or fences (POWER, RISC-V, ARMv7), so a light
 * fast side would save next to nothing while every sleeper of a shared
 * queue paid a system call: both sides keep sequentially consistent
 * operations.
 */
#include "handshake.h"

bool conc__handshake_arch_pays(void)
{
    return false;
}
