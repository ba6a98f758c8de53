/* The context switch on x86-64, by hand: the callee-saved registers, the SSE
 * and x87 control words and the stack pointer, nothing else. glibc's
 * swapcontext also saves the signal mask, which costs a system call on every
 * switch; no coroutine here changes its mask, so there is nothing to save. */
#include "coro_int.h"

#if defined(__x86_64__) && !defined(CORO_UCONTEXT)

#include <string.h>

/* coro__ctx_switch(from = %rdi, to = %rsi). The frame it leaves on the stack
 * it suspends, from the stack pointer up:
 *   0: MXCSR (4 bytes), x87 control word (2), padding (2)
 *   8: r15, r14, r13, r12, rbx, rbp
 *  56: the return address into whoever called coro__ctx_switch
 * The caller-saved registers need no saving: the C caller of a function
 * already assumes it destroys them.
 *
 * coro__ctx_start is where a new context's first switch returns to, with
 * the function in r12 and its argument in r13 (see coro__ctx_make). */
__asm__(".text\n"
        ".globl coro__ctx_switch\n"
        ".type coro__ctx_switch, @function\n"
        ".p2align 4\n"
        "coro__ctx_switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq $8, %rsp\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq (%rsi), %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size coro__ctx_switch, .-coro__ctx_switch\n"
        "\n"
        ".type coro__ctx_start, @function\n"
        ".p2align 4\n"
        "coro__ctx_start:\n"
        "    movq %r13, %rdi\n"
        "    callq *%r12\n"
        "    ud2\n" /* the function returned: there is nowhere to go */
        ".size coro__ctx_start, .-coro__ctx_start\n");

void coro__ctx_start(void);

/* Builds the frame coro__ctx_switch pops, so the first switch to ctx
 * "returns" into coro__ctx_start. The stack pointer after that return must
 * be 16-byte aligned, so that the call to fn leaves fn's frame aligned as
 * the ABI wants. */
void coro__ctx_make(struct coro__ctx *ctx, void *stack, size_t size, void (*fn)(void *), void *arg)
{
    uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 16); /* 16-aligned: where rsp lands after the ret */
    uint32_t mxcsr;
    uint16_t fpucw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    sp[0] = 0;                          /* a null return address ends backtraces */
    *--sp = (uintptr_t)coro__ctx_start; /* popped by ret */
    *--sp = 0;                          /* rbp */
    *--sp = 0;                          /* rbx */
    *--sp = (uintptr_t)fn;              /* r12 */
    *--sp = (uintptr_t)arg;             /* r13 */
    *--sp = 0;                          /* r14 */
    *--sp = 0;                          /* r15 */
    *--sp = 0;
    memcpy(sp, &mxcsr, sizeof(mxcsr));
    memcpy((char *)sp + 4, &fpucw, sizeof(fpucw));
    ctx->sp = sp;
}

#endif
