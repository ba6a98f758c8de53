/* What every process shares (proc/): the deadline heap against a sorted
 * reference, its ties, moves and removals; HOST:PORT splitting; CPU lists;
 * the descriptor limit. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "heap.h"
#include "proc.h"
#include "wl.h"

struct item {
    int id;
    struct heap_node node;
};

#define N 2000

/* Random sets, moves and removals, then pops: deadlines come out sorted, and
 * every node still in the heap comes out exactly once. */
Test(heap, pops_in_deadline_order_after_random_moves_and_removals)
{
    static struct item items[N];
    struct heap h;
    struct wl_rng rng;
    heap_init(&h);
    wl_rng_seed(&rng, 7);
    for (int i = 0; i < N; i++) {
        items[i].id = i;
        heap_node_init(&items[i].node);
        cr_assert_eq(heap_set(&h, &items[i].node, wl_rng_next(&rng) % 1000), 0);
    }
    int inside = N;
    for (int k = 0; k < 3 * N; k++) {
        struct item *it = &items[wl_rng_next(&rng) % N];
        if (wl_rng_next(&rng) % 3 == 0 && heap_contains(&it->node)) {
            heap_remove(&h, &it->node);
            inside--;
        } else {
            inside += !heap_contains(&it->node);
            cr_assert_eq(heap_set(&h, &it->node, wl_rng_next(&rng) % 1000), 0);
        }
    }
    cr_assert_eq(h.len, (size_t)inside);
    uint64_t last = 0;
    int popped = 0;
    for (struct heap_node *x; (x = heap_pop_due(&h, UINT64_MAX)); popped++) {
        cr_assert_geq(x->deadline, last);
        cr_assert_not(heap_contains(x));
        last = x->deadline;
    }
    cr_assert_eq(popped, inside);
    cr_assert_eq(heap_next(&h), UINT64_MAX);
    heap_free(&h);
}

/* Nodes set for the same instant leave in the order they were set. */
Test(heap, equal_deadlines_leave_first_come_first_served)
{
    struct item items[64];
    struct heap h;
    heap_init(&h);
    for (int i = 0; i < 64; i++) {
        items[i].id = i;
        heap_node_init(&items[i].node);
        cr_assert_eq(heap_set(&h, &items[i].node, i % 2 ? 5 : 9), 0);
    }
    int want_odd = 1, want_even = 0;
    for (int i = 0; i < 64; i++) {
        struct heap_node *x = heap_pop_due(&h, 100);
        struct item *it = heap_entry(x, struct item, node);
        if (i < 32) {
            cr_assert_eq(it->id, want_odd, "pop %d: got %d, want %d", i, it->id, want_odd);
            want_odd += 2;
        } else {
            cr_assert_eq(it->id, want_even, "pop %d: got %d, want %d", i, it->id, want_even);
            want_even += 2;
        }
    }
    heap_free(&h);
}

Test(heap, pop_due_leaves_what_is_not_due)
{
    struct item a = {.id = 1}, b = {.id = 2};
    struct heap h;
    heap_init(&h);
    heap_node_init(&a.node);
    heap_node_init(&b.node);
    heap_set(&h, &a.node, 10);
    heap_set(&h, &b.node, 20);
    cr_assert_null(heap_pop_due(&h, 9));
    cr_assert_eq(heap_pop_due(&h, 15), &a.node);
    cr_assert_null(heap_pop_due(&h, 15));
    cr_assert_eq(heap_next(&h), 20);
    heap_set(&h, &b.node, 3); /* moved earlier */
    cr_assert_eq(heap_pop_due(&h, 3), &b.node);
    heap_remove(&h, &b.node); /* not in the heap: nothing */
    cr_assert_eq(h.len, 0);
    heap_free(&h);
}

Test(proc, split_addr_takes_host_port_and_bracketed_v6)
{
    char host[64];
    const char *port;
    cr_assert_eq(proc_split_addr("127.0.0.1:8080", host, sizeof(host), &port), 0);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_str_eq(port, "8080");
    cr_assert_eq(proc_split_addr("[::1]:0", host, sizeof(host), &port), 0);
    cr_assert_str_eq(host, "::1");
    cr_assert_str_eq(port, "0");
    const char *bad[] = {"", "8080", ":8080", "host:", "[]:80", "[::1]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(proc_split_addr(bad[i], host, sizeof(host), &port), -EINVAL, "'%s'", bad[i]);
    cr_assert_eq(proc_split_addr("averylonghostname:1", host, 8, &port), -EINVAL);
}

Test(proc, cpu_lists_are_counted_strictly)
{
    cr_assert_eq(proc_count_cpus("0"), 1);
    cr_assert_eq(proc_count_cpus("0-3"), 4);
    cr_assert_eq(proc_count_cpus("0,2-3"), 3);
    const char *bad[] = {"", "-1", "1-0", "0,", ",0", "0 ", "a", "0-", "99999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(proc_count_cpus(bad[i]), -1, "'%s'", bad[i]);
    cr_assert_geq(proc_cpus_allowed(), 1);
}

Test(proc, raise_nofile_goes_up_to_the_hard_limit)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    long got = proc_raise_nofile(0);
    cr_assert_eq((rlim_t)got, rl.rlim_max == RLIM_INFINITY ? (rlim_t)got : rl.rlim_max);
    cr_assert_geq(proc_raise_nofile(64), 64); /* never lowers */
}

/* One port for every loop: the first socket picks it, the others share it. */
Test(proc, listen_group_shares_one_port)
{
    int fds[3];
    char bound[64];
    cr_assert_eq(proc_listen_group("127.0.0.1:0", fds, 3, bound, sizeof(bound)), 0);
    for (int i = 0; i < 3; i++) {
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);
        cr_assert_geq(fds[i], 0);
        cr_assert_eq(getsockname(fds[i], (struct sockaddr *)&sa, &len), 0);
        char want[64];
        snprintf(want, sizeof(want), "127.0.0.1:%d", ntohs(sa.sin_port));
        cr_expect_str_eq(bound, want, "socket %d", i);
        close(fds[i]);
    }
    cr_assert_eq(proc_listen_group("no-port", fds, 3, bound, sizeof(bound)), -EINVAL);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(fds[i], -1);
}

/* A file read whole and copied: what the sweep, the merge and the report
 * do with the files they keep. */
Test(proc, files_read_whole_and_copied)
{
    char dir[] = "/tmp/overlap-test-files-XXXXXX", a[64], b[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(a, sizeof(a), "%s/a", dir);
    snprintf(b, sizeof(b), "%s/b", dir);
    FILE *f = fopen(a, "w");
    cr_assert_not_null(f);
    fputs("line one\nline two\n", f);
    fclose(f);
    size_t len = 0;
    char *text = proc_read_file(a, &len);
    cr_assert_str_eq(text, "line one\nline two\n");
    cr_expect_eq(len, 18);
    free(text);
    /* a new copy, never over a file; a replacing one over it */
    cr_expect_eq(proc_copy_file(a, b, true), 0);
    cr_expect_eq(proc_copy_file(a, b, true), -EEXIST);
    text = proc_read_file(b, NULL);
    cr_expect_str_eq(text, "line one\nline two\n");
    free(text);
    f = fopen(a, "w");
    cr_assert_not_null(f);
    fclose(f); /* now empty */
    cr_expect_eq(proc_copy_file(a, b, false), 0);
    text = proc_read_file(b, &len);
    cr_expect_str_eq(text, "", "an empty file reads as empty text");
    cr_expect_eq(len, 0);
    free(text);
    /* what is not there */
    cr_expect_null(proc_read_file(dir, NULL), "a folder is no file to read");
    char missing[80];
    snprintf(missing, sizeof(missing), "%s/none", dir);
    cr_expect_null(proc_read_file(missing, NULL));
    cr_expect_eq(errno, ENOENT);
    cr_expect_eq(proc_copy_file(missing, b, false), -ENOENT);
    cr_expect_eq(proc_remove_tree(dir), 0);
}
