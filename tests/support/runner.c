/* The Criterion runner's own allocations are not the tests' to answer for.
 *
 * Criterion's runner arms a watchdog per test with a timeout (BoxFort's
 * timeout list, 48 bytes a test) and, with tests running two at a time,
 * now and then loses one entry of that list: LeakSanitizer then fails the
 * whole binary at the runner's exit after every test passed. The runner
 * runs none of overlap's code (each test runs in a worker process of its
 * own, started afresh, where leaks are still found and fail the test), so
 * its leak check is turned off before the first test starts. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>

#if defined(__SANITIZE_ADDRESS__)
#define RUNNER_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RUNNER_LSAN 1
#endif
#endif

#ifdef RUNNER_LSAN
#include <sanitizer/lsan_interface.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    __lsan_disable(); /* this thread's allocations from here on, the runner's main thread */
}
#endif
