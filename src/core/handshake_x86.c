/*
 * x86: a sequentially consistent store is a locked exchange, a release store
 * a plain move, so the light fast side saves a full barrier per item.
 */
#include "handshake.h"

bool conc__handshake_arch_pays(void)
{
    return true;
}
