/* Fibers: a coroutine's stack and context, and the switch between two of
 * them. A stack is an anonymous mapping with a PROT_NONE guard page below it,
 * so a coroutine that runs off its end dies of SIGSEGV at the guard instead
 * of writing into whatever lies below. Pages are touched only as the stack
 * grows into them: a 64 KiB stack costs the few pages a request really uses.
 *
 * AddressSanitizer and ThreadSanitizer do not see a hand-made stack switch:
 * ASan would take the new stack for a wild one and TSan would mix two
 * fibers' histories. Each switch tells them, as their fiber APIs ask. */
#define _GNU_SOURCE /* pthread_getattr_np */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coro_int.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define CORO_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(CORO_ASAN)
#define CORO_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(CORO_TSAN)
#define CORO_TSAN 1
#endif

#ifdef CORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

void coro__fiber_init_thread(struct coro__fiber *f)
{
    memset(f, 0, sizeof(*f));
#ifdef CORO_ASAN
    /* ASan wants the bounds of the stack a switch goes to, this one too. */
    pthread_attr_t attr;
    void *lo;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
            f->stack = lo;
            f->size = size;
        }
        pthread_attr_destroy(&attr);
    }
#endif
#ifdef CORO_TSAN
    f->tsan = __tsan_get_current_fiber();
#endif
}

/* Every fiber begins here, on its own stack, at its first switch. */
static void fiber_start(void *arg)
{
    struct coro__fiber *f = arg;
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL); /* a new fiber has no fake stack yet */
#endif
    f->fn(f->arg);
    abort(); /* a fiber's function never returns: there is nowhere to return to */
}

int coro__fiber_create(struct coro__fiber *f, size_t size, void (*fn)(void *), void *arg)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size = (size + page - 1) / page * page;
    memset(f, 0, sizeof(*f));
    char *map = mmap(NULL, size + page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return -errno;
    if (mprotect(map, page, PROT_NONE) < 0) { /* the guard: stacks grow down into it */
        int err = -errno;
        munmap(map, size + page);
        return err;
    }
    f->map = map;
    f->map_len = size + page;
    f->stack = map + page;
    f->size = size;
    f->fn = fn;
    f->arg = arg;
    coro__ctx_make(&f->ctx, f->stack, f->size, fiber_start, f);
#ifdef CORO_TSAN
    f->tsan = __tsan_create_fiber(0);
#endif
    return 0;
}

void coro__fiber_destroy(struct coro__fiber *f)
{
    if (!f->map)
        return;
#ifdef CORO_ASAN
    /* The frames the fiber was suspended in leave poisoned shadow behind;
     * memory mapped here later must not inherit it. */
    __asan_unpoison_memory_region(f->stack, f->size);
#endif
#ifdef CORO_TSAN
    __tsan_destroy_fiber(f->tsan);
#endif
    munmap(f->map, f->map_len);
    f->map = NULL;
    f->stack = NULL;
}

void coro__fiber_switch(struct coro__fiber *from, struct coro__fiber *to)
{
#ifdef CORO_ASAN
    __sanitizer_start_switch_fiber(&from->asan_fake, to->stack, to->size);
#endif
#ifdef CORO_TSAN
    __tsan_switch_to_fiber(to->tsan, 0);
#endif
    coro__ctx_switch(&from->ctx, &to->ctx);
#ifdef CORO_ASAN
    /* Back on from's stack, resumed by whoever switched to it. */
    __sanitizer_finish_switch_fiber(from->asan_fake, NULL, NULL);
#endif
}
