/* The portable context switch: glibc's makecontext and swapcontext, used
 * where there is no hand-written switch (anything but x86-64) or when the
 * build asks for it (OVERLAP_CORO_UCONTEXT). swapcontext also saves and
 * restores the signal mask, a system call each way: see README.md for what
 * that costs per switch. */
#include "coro_int.h"

#if !defined(__x86_64__) || defined(CORO_UCONTEXT)

#include <stdlib.h>

/* makecontext passes int arguments only: the context's address travels as
 * two 32-bit halves. */
static void ctx_start(unsigned int hi, unsigned int lo)
{
    struct coro__ctx *ctx = (struct coro__ctx *)(uintptr_t)(((uint64_t)hi << 32) | lo);
    ctx->fn(ctx->arg);
    abort(); /* the function returned: there is nowhere to go */
}

void coro__ctx_make(struct coro__ctx *ctx, void *stack, size_t size, void (*fn)(void *), void *arg)
{
    uint64_t p = (uintptr_t)ctx;
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = stack;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    ctx->fn = fn;
    ctx->arg = arg;
    makecontext(&ctx->uc, (void (*)(void))ctx_start, 2, (unsigned int)(p >> 32), (unsigned int)p);
}

void coro__ctx_switch(struct coro__ctx *from, struct coro__ctx *to)
{
    swapcontext(&from->uc, &to->uc);
}

#endif
