/* The pool beyond the engine suite: what only a pool has to prove, since its
 * threads are what it runs out of. Between requests a connection must wait
 * in the poller, not in a thread: checked against the pool's modes that
 * promise it (request and leader mode), each with a single worker. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <string.h>

#include "engines.h"

static const char workload_ini[] = "[workload]\nname = pooltest\n"
                                   "[database]\ninit = data.sql\n"
                                   "[query.one]\nsql = SELECT id FROM t WHERE id = ?\n"
                                   "params = int 1 3\nlatency = fixed 1ms\n"
                                   "[request.one]\nsteps = query one\n";
static const char data_sql[] = "CREATE TABLE t(id INTEGER PRIMARY KEY);\n"
                               "INSERT INTO t VALUES (1), (2), (3);\n";

static const struct suite_spec spec = {.workload_ini = workload_ini, .data_sql = data_sql};

static void suite_init(void)
{
    suite_start(&spec);
}

TestSuite(pool, .init = suite_init, .fini = suite_fini, .timeout = 120);

#define NWAITING 4

/* Idle keep-alive connections and heads that never end, more of them than
 * there are workers: the one worker still serves a new client, then each
 * idle connection when it speaks again. A pool whose threads wait on their
 * connections would never answer the new client. */
static void check_waiting_holds_no_thread(void)
{
    struct client *idle[NWAITING], *slow[NWAITING];
    for (int i = 0; i < NWAITING; i++) {
        idle[i] = client_open();
        CHECK_EQ(get(idle[i], "/plaintext")->status, 200, "before going idle", engine);
        slow[i] = client_open();
        send_str(slow[i], "GET /one HTTP/1.1\r\nHost: never-end");
    }
    struct client *c = client_open();
    struct response *r = get(c, "/one");
    CHECK_EQ(r->status, 200, "a new client beside %d waiting connections", engine, 2 * NWAITING);
    CHECK(strstr(r->body, "\"query\":\"one\"") != NULL, "its body: %s", engine, r->body);
    for (int i = 0; i < NWAITING; i++)
        CHECK_EQ(get(idle[i], "/one")->status, 200, "idle connection %d speaks again", engine, i);
    close_all_clients();
}

Test(pool, waiting_connections_hold_no_thread)
{
    const char *extra[] = {"--workers", "1", NULL};
    const char *modes[] = {"pool-request", "pool-leader"};
    start_db(NULL);
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        engine = modes[i];
        start_server(NULL, extra);
        check_waiting_holds_no_thread();
        stop_server();
    }
    child_stop(&db, STOP_MS);
}
