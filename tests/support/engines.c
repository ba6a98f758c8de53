/* The per-engine suites' scaffolding: their directory and children, the
 * engine loop, and the HTTP client they check the server with. */
#define _GNU_SOURCE
#include "engines.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

/* The configs the suites run unless OVERLAP_ENGINES names others: every
 * engine and every pool mode a user can run, thread per connection included. */
#define DEFAULT_ENGINES "pool-leader,pool-request,pool-connection,pool-threads,async,coro,uring"

/* A config's name says what a user would run. The pool's three modes are
 * named explicitly, whatever the server's default mode: `pool-leader` is
 * that default. `flags` come before a test's extra flags, which may change
 * them (`--workers`, `--queue`, `--loops`); `fixed` come after, because they
 * are what the config is: `pool-threads` stays a thread per connection even
 * where a test sizes the pools of the others. */
struct engine_config {
    const char *name;
    const char *flags[8];
    const char *fixed[3];
};

static const struct engine_config configs[] = {
    {"pool-leader", {"--engine", "pool", "--pool-mode", "leader"}, {NULL}},
    {"pool-request", {"--engine", "pool", "--pool-mode", "request"}, {NULL}},
    /* connection mode bounded at the suite's 8 workers (start_server) */
    {"pool-connection", {"--engine", "pool", "--pool-mode", "connection"}, {NULL}},
    {"pool-threads", {"--engine", "pool", "--pool-mode", "connection"}, {"--workers", "0"}},
    /* two loops even on one CPU: the multi-loop path, and TSan over it */
    {"async", {"--engine", "async", "--loops", "2"}, {NULL}},
    {"coro", {"--engine", "coro", "--loops", "2"}, {NULL}},
    /* async's requests on io_uring, every step of the ladder in its default */
    {"uring", {"--engine", "uring", "--loops", "2"}, {NULL}},
};

#define NCONFIGS  (sizeof(configs) / sizeof(configs[0]))
#define NAMES_ALL "pool-leader, pool-request, pool-connection, pool-threads, async, coro or uring"

static const struct engine_config *find_config(const char *name)
{
    for (size_t i = 0; i < NCONFIGS; i++)
        if (!strcmp(configs[i].name, name))
            return &configs[i];
    return NULL;
}

char suite_dir[256];
struct child db, srv;
const char *engine = "";

static const struct suite_spec *spec;
static char wl_path[300], db_sock[300], db_listen[310];

/* Clients not yet closed, so that suite_fini can close them. */
static struct client *open_clients[MAX_CLIENTS];

static void write_file(const char *name, const char *text, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", suite_dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

void suite_start(const struct suite_spec *s)
{
    char sql_path[300];
    spec = s;
    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(child_tmpdir(suite_dir, sizeof(suite_dir)), 0);
    write_file("data.sql", s->data_sql, sql_path, sizeof(sql_path));
    write_file("w.ini", s->workload_ini, wl_path, sizeof(wl_path));
    snprintf(db_sock, sizeof(db_sock), "%s/db.sock", suite_dir);
    snprintf(db_listen, sizeof(db_listen), "unix:%s", db_sock);
}

void suite_fini(void)
{
    close_all_clients();
    child_kill(&srv);
    if (spec && spec->backend == BACKEND_PG)
        child_stop(&db, STOP_MS); /* SIGTERM: overlap pg stops postgres and cleans up */
    child_kill(&db);
    child_tmpdir_remove(suite_dir);
}

/* `overlap pg` for the suite's workload, once: a cluster takes seconds. */
static void start_pg(const char *const *faults)
{
    char budget[16];
    cr_assert(!faults || !*faults, "overlap pg has no fault flags");
    if (db.pid > 0)
        return;
    snprintf(budget, sizeof(budget), "%d", spec->pg_connections ? spec->pg_connections : 40);
    /* as root, postgres runs as another user, who must get through the directory */
    cr_assert_eq(chmod(suite_dir, 0711), 0);
    const char *args[] = {"pg",      "--workload",    wl_path, "--dir",
                          suite_dir, "--connections", budget,  NULL};
    cr_assert_eq(child_start(&db, args, PG_START_MS), 0, "overlap pg did not start");
}

void start_db(const char *const *faults)
{
    if (spec->backend == BACKEND_PG) {
        start_pg(faults);
        return;
    }
    const char *args[24] = {"db", "--workload", wl_path, "--listen", db_listen};
    int n = 5;
    for (const char *const *f = spec->db_flags; f && *f && n < 22; f++)
        args[n++] = *f;
    while (faults && *faults && n < 22)
        args[n++] = *faults++;
    args[n] = NULL;
    unlink(db_sock); /* a killed database leaves its socket behind */
    cr_assert_eq(child_start(&db, args, START_MS), 0, "overlap db did not start");
}

void start_server(const char *db_addr, const char *const *extra)
{
    const char *argv[40];
    int n = 0;
    argv[n++] = "serve";
    const char *db_at = db_addr ? db_addr : spec->backend == BACKEND_PG ? db.addr : db_listen;
    const char *common[] = {"--workload",  wl_path,     "--db", db_at, "--listen",
                            "127.0.0.1:0", "--workers", "8",    NULL};
    for (int i = 0; common[i]; i++)
        argv[n++] = common[i];
    const struct engine_config *config = find_config(engine);
    cr_assert_not_null(config, "unknown engine '%s' (expected " NAMES_ALL ")", engine);
    for (int i = 0; config->flags[i]; i++)
        argv[n++] = config->flags[i];
    for (int i = 0; extra && extra[i] && n < 34; i++)
        argv[n++] = extra[i]; /* a later flag overrides an earlier one */
    for (int i = 0; config->fixed[i]; i++)
        argv[n++] = config->fixed[i];
    argv[n] = NULL;
    CHECK(child_start(&srv, argv, START_MS) == 0, "overlap serve did not start", engine);
}

void stop_server(void)
{
    int status = child_stop(&srv, STOP_MS);
    CHECK_EQ(status, 0, "SIGTERM must end the server with status 0, got %d", engine, status);
}

/* The names in OVERLAP_ENGINES (or the default list), checked before any
 * runs: an unknown name fails the test with the names there are. Returns
 * how many different configs they name. */
static int read_engine_names(char *names, size_t cap)
{
    const char *env = getenv("OVERLAP_ENGINES");
    char copy[256], *save = NULL;
    bool named[NCONFIGS] = {false};
    int count = 0;
    snprintf(names, cap, "%s", env && *env ? env : DEFAULT_ENGINES);
    snprintf(copy, sizeof(copy), "%s", names);
    for (char *name = strtok_r(copy, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
        const struct engine_config *config = find_config(name);
        cr_assert_not_null(config,
                           "unknown engine '%s' in OVERLAP_ENGINES (expected " NAMES_ALL ")", name);
        count += !named[config - configs];
        named[config - configs] = true;
    }
    return count;
}

int engine_count(void)
{
    char names[256];
    return read_engine_names(names, sizeof(names));
}

bool next_engine(struct engine_list *list)
{
    char *name;
    if (!list->started) {
        read_engine_names(list->names, sizeof(list->names));
        list->started = true;
        name = strtok_r(list->names, ", ", &list->save);
    } else {
        name = strtok_r(NULL, ", ", &list->save);
    }
    if (name)
        engine = name;
    return name != NULL;
}

void each_engine(void (*check)(void), const char *const *faults, const char *const *extra)
{
    struct engine_list list = {0};
    start_db(faults);
    while (next_engine(&list)) {
        start_server(NULL, extra);
        check();
        stop_server();
    }
    if (spec->backend != BACKEND_PG)
        child_stop(&db, STOP_MS);
}

/* ---- the client ---- */

static int connect_server(void)
{
    char host[64];
    const char *colon = strrchr(srv.addr, ':');
    cr_assert(colon);
    snprintf(host, sizeof(host), "%.*s", (int)(colon - srv.addr), srv.addr);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    cr_assert_eq(inet_pton(AF_INET, host, &sa.sin_addr), 1, "address %s", srv.addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct timeval tv = {.tv_sec = IO_TIMEOUT};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %s", engine,
          strerror(errno));
    return fd;
}

struct client *client_open(void)
{
    struct client *c = calloc(1, sizeof(*c));
    cr_assert_not_null(c);
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (!open_clients[i]) {
            open_clients[i] = c;
            break;
        }
    c->fd = -1; /* until connected: a failed connect leaves nothing to close */
    c->fd = connect_server();
    return c;
}

void client_close(struct client *c)
{
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (open_clients[i] == c)
            open_clients[i] = NULL;
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

void close_all_clients(void)
{
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (open_clients[i])
            client_close(open_clients[i]);
}

void send_bytes(struct client *c, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        CHECK(w > 0, "send: %s", engine, strerror(errno));
        s += w;
        n -= (size_t)w;
    }
}

void send_str(struct client *c, const char *s)
{
    send_bytes(c, s, strlen(s));
}

ssize_t read_more(struct client *c)
{
    if (c->len == sizeof(c->buf))
        return -1;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n > 0)
        c->len += (size_t)n;
    return n;
}

const char *header(const struct response *r, const char *name, char *val, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) || p[2 + n] != ':')
            continue;
        const char *v = p + 3 + n, *end = strstr(v, "\r\n");
        while (*v == ' ')
            v++;
        snprintf(val, cap, "%.*s", (int)(end - v), v);
        return val;
    }
    return NULL;
}

bool parse_imf_fixdate(const char *v, time_t *t)
{
    static const char format[] = "%a, %d %b %Y %H:%M:%S GMT";
    struct tm tm = {0}, again;
    char text[64];
    const char *end = strptime(v, format, &tm);
    if (!end || *end)
        return false;
    /* strptime is lenient (case, spaces, a missing zero, any weekday): the
     * date written back the one canonical way must give the same bytes */
    *t = timegm(&tm);
    if (!gmtime_r(t, &again) || !strftime(text, sizeof(text), format, &again))
        return false;
    return strcmp(text, v) == 0;
}

bool try_read_response(struct client *c, struct response *r, bool head_request)
{
    time_t date;
    char *end, val[64];
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        if (read_more(c) <= 0)
            return false;
    size_t hl = (size_t)(end - c->buf) + 4;
    CHECK(hl < sizeof(r->head), "response head too long", engine);
    memcpy(r->head, c->buf, hl);
    r->head[hl] = '\0';
    CHECK(sscanf(r->head, "HTTP/1.1 %d ", &r->status) == 1, "bad status line: %s", engine, r->head);
    CHECK(header(r, "Date", val, sizeof(val)) && parse_imf_fixdate(val, &date),
          "no well-formed Date in %s", engine, r->head);
    CHECK(header(r, "Content-Length", val, sizeof(val)) != NULL, "no Content-Length", engine);
    r->body_len = head_request ? 0 : strtoul(val, NULL, 10);
    CHECK(r->body_len < sizeof(r->body), "body too long", engine);
    while (c->len < hl + r->body_len)
        if (read_more(c) <= 0)
            return false;
    memcpy(r->body, c->buf + hl, r->body_len);
    r->body[r->body_len] = '\0';
    memmove(c->buf, c->buf + hl + r->body_len, c->len - hl - r->body_len);
    c->len -= hl + r->body_len;
    return true;
}

void read_response(struct client *c, struct response *r, bool head_request)
{
    CHECK(try_read_response(c, r, head_request),
          "connection closed or timed out before a whole response", engine);
}

struct response *get(struct client *c, const char *path)
{
    static struct response r;
    char req[512];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path);
    send_str(c, req);
    read_response(c, &r, false);
    return &r;
}

bool take_continue(struct client *c, int ms)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    size_t n = sizeof(CONTINUE_100) - 1;
    while (!memmem(c->buf, c->len, "\r\n\r\n", 4)) {
        if (poll(&pfd, 1, ms) != 1 || read_more(c) <= 0)
            return false; /* ms bounds each wait: the server sends its head in one write */
    }
    if (c->len < n || memcmp(c->buf, CONTINUE_100, n))
        return false;
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
    return true;
}

bool ends_eventually(struct client *c)
{
    ssize_t n;
    c->len = 0;
    while ((n = read_more(c)) > 0)
        c->len = 0; /* whatever it says first (a 408 or nothing) does not matter */
    return n == 0 || (n < 0 && errno == ECONNRESET);
}
