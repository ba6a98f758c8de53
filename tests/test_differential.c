/* The engines side by side: the same byte streams, sent to every engine in
 * OVERLAP_ENGINES, must get the same final statuses in the same order and
 * the same decision to close or keep the connection. The streams are a
 * fixed list of tricky cases, each with the outcome http/README.md's rules
 * give it, then a few hundred deterministic mutations of valid requests
 * (byte flips, truncations, duplications, line-end swaps, inserted headers,
 * bodies), whose outcomes are compared between the engines only: with fewer
 * than two engines they would check nothing, so the test fails instead. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "engines.h"

static const char workload_ini[] = "[workload]\nname = differential\n"
                                   "[database]\ninit = data.sql\n"
                                   "[query.one]\nsql = SELECT x FROM t\nlatency = fixed 1ms\n"
                                   "[request.one]\nsteps = query one\n";
static const char data_sql[] = "CREATE TABLE t(x INTEGER);\nINSERT INTO t VALUES (7);\n";

static const struct suite_spec spec = {.workload_ini = workload_ini, .data_sql = data_sql};

#define NMUTATIONS  300
#define MAX_STREAMS (64 + NMUTATIONS)
#define MUTANT_CAP  4096 /* a mutant's bytes at most: seeds are short, inserts bounded */
#define OUTCOME_LEN 256
#define MAX_FAILS   20 /* differences reported before the test gives up */

struct stream {
    char name[48];
    char *data;
    size_t len;
    const char *want; /* a fixed case's outcome by the rules; NULL for a mutant */
};

static struct stream streams[MAX_STREAMS];
static int nstreams;
static char first_outcome[MAX_STREAMS][OUTCOME_LEN]; /* what the first engine got */

static void suite_init(void)
{
    suite_start(&spec);
}

static void suite_done(void)
{
    for (int i = 0; i < nstreams; i++)
        free(streams[i].data);
    suite_fini();
}

TestSuite(differential, .init = suite_init, .fini = suite_done, .timeout = 240);

/* ---- the streams ---- */

static void add(const char *name, const void *data, size_t len, const char *want)
{
    cr_assert_lt(nstreams, MAX_STREAMS);
    struct stream *s = &streams[nstreams++];
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->data = malloc(len + 1);
    cr_assert_not_null(s->data);
    memcpy(s->data, data, len);
    s->len = len;
    s->want = want;
}

#define ADD(name, literal, want) add(name, literal, sizeof(literal) - 1, want)

/* head (request line and fields, each ending in CR LF), Content-Length of
 * body_len bytes of `fill`, the empty line, the body, then after. */
static void add_with_body(const char *name, const char *head, size_t body_len, char fill,
                          const char *after, const char *want)
{
    size_t cap = strlen(head) + body_len + strlen(after) + 64, n;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    n = (size_t)sprintf(buf, "%sContent-Length: %zu\r\n\r\n", head, body_len);
    memset(buf + n, fill, body_len);
    n += body_len;
    n += (size_t)sprintf(buf + n, "%s", after);
    add(name, buf, n, want);
    free(buf);
}

/* A request whose head is exactly head_len bytes, padded in one field,
 * with a 5-byte body and a request behind it. */
static void add_padded_head(const char *name, size_t head_len, const char *want)
{
    static const char start[] = "GET /plaintext HTTP/1.1\r\nContent-Length: 5\r\nX-Pad: ";
    static const char after[] = "helloGET /plaintext HTTP/1.1\r\n\r\n";
    char *buf = malloc(head_len + sizeof(after));
    cr_assert_not_null(buf);
    memcpy(buf, start, sizeof(start) - 1);
    memset(buf + sizeof(start) - 1, 'p', head_len - 4 - (sizeof(start) - 1));
    memcpy(buf + head_len - 4, "\r\n\r\n", 4);
    memcpy(buf + head_len, after, sizeof(after) - 1);
    add(name, buf, head_len + sizeof(after) - 1, want);
    free(buf);
}

/* n queries in one write, each with a 3-byte body: served one after
 * another by whoever holds the connection. */
static void add_bodies_pipelined(const char *name, int n, const char *want)
{
    static const char one[] = "GET /one HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
    char buf[64 * (sizeof(one) - 1)];
    cr_assert_leq(n, 64);
    for (int i = 0; i < n; i++)
        memcpy(buf + i * (sizeof(one) - 1), one, sizeof(one) - 1);
    add(name, buf, (size_t)n * (sizeof(one) - 1), want);
}

/* A request line of line_len bytes (CR LF not counted). */
static void add_long_line(const char *name, size_t line_len, const char *want)
{
    char *buf = malloc(line_len + 8);
    cr_assert_not_null(buf);
    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', line_len - 5 - 9);
    memcpy(buf + line_len - 9, " HTTP/1.1\r\n\r\n", 13);
    add(name, buf, line_len + 4, want);
    free(buf);
}

static void add_fixed_cases(void)
{
    ADD("plain", "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n", "200 keep eof");
    ADD("pipelined three",
        "GET /plaintext HTTP/1.1\r\n\r\nGET /missing HTTP/1.1\r\n\r\nGET /one HTTP/1.1\r\n\r\n",
        "200 404 200 keep eof");
    ADD("HTTP/1.0", "GET /plaintext HTTP/1.0\r\n\r\n", "200 close eof");
    ADD("LF only", "GET /plaintext HTTP/1.1\nHost: t\n\n", "200 keep eof");
    ADD("empty lines first", "\r\n\n\r\nGET /plaintext HTTP/1.1\r\n\r\n", "200 keep eof");
    ADD("absolute form", "GET http://h/plaintext HTTP/1.1\r\n\r\n", "200 keep eof");
    ADD("only empty lines", "\r\n\r\n", "none keep eof");
    add("nothing", "", 0, "none keep eof");
    /* refused heads close after their error; what follows is not served */
    ADD("space before colon", "GET /plaintext HTTP/1.1\r\nHost : t\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        "400 close eof");
    ADD("bare CR", "GET /plaintext HTTP/1.1\r\nX: a\rb\r\n\r\n", "400 close eof");
    ADD("NUL in a field", "GET /plaintext HTTP/1.1\r\nX: a\0b\r\n\r\n", "400 close eof");
    ADD("obs-fold", "GET /plaintext HTTP/1.1\r\nX: a\r\n b\r\n\r\n", "400 close eof");
    ADD("Host twice", "GET /plaintext HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "400 close eof");
    ADD("HTTP/2.0", "GET /plaintext HTTP/2.0\r\n\r\n", "400 close eof");
    ADD("TLS hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n",
        "400 close eof");
    ADD("chunked", "GET /plaintext HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "501 close eof");
    ADD("Expect other", "GET /plaintext HTTP/1.1\r\nExpect: foo\r\n\r\n", "417 close eof");
    ADD("Content-Lengths disagree",
        "GET /plaintext HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "400 close eof");
    ADD("Content-Length +5", "GET /plaintext HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello",
        "400 close eof");
    ADD("Content-Length of 20 digits",
        "GET /plaintext HTTP/1.1\r\nContent-Length: 10000000000000000000\r\n\r\n", "400 close eof");
    add_long_line("request line of 8004", 8004, "414 close eof");
    add_padded_head("head of 8193", 8193, "431 close eof");
    /* bodies: read whole, then answered; what follows is the next request */
    add_padded_head("head of 8192 with a body", 8192, "200 200 keep eof");
    add_with_body("body then a request", "GET /plaintext HTTP/1.1\r\n", 10, 'b',
                  "GET /missing HTTP/1.1\r\n\r\n", "200 404 keep eof");
    ADD("body that looks like a request",
        "GET /plaintext HTTP/1.1\r\nContent-Length: 25\r\n\r\nGET /missing HTTP/1.1\r\n\r\n"
        "GET /plaintext HTTP/1.1\r\n\r\n",
        "200 200 keep eof");
    ADD("Content-Length 0",
        "GET /plaintext HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET /one HTTP/1.1\r\n\r\n",
        "200 200 keep eof");
    ADD("Content-Lengths agree",
        "GET /plaintext HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
        "GET /plaintext HTTP/1.1\r\n\r\n",
        "200 200 keep eof");
    ADD("HEAD with a body",
        "HEAD /plaintext HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /plaintext HTTP/1.1\r\n\r\n",
        "200 200 keep eof");
    add_with_body("POST with a body", "POST /plaintext HTTP/1.1\r\n", 4, 'p',
                  "GET /plaintext HTTP/1.1\r\n\r\n", "405 200 keep eof");
    add_with_body("404 with a body", "GET /missing HTTP/1.1\r\n", 3, 'm',
                  "GET /plaintext HTTP/1.1\r\n\r\n", "404 200 keep eof");
    add_with_body("query with a body", "GET /one HTTP/1.1\r\n", 3, 'q',
                  "GET /plaintext HTTP/1.1\r\n\r\n", "200 200 keep eof");
    add_with_body("close with a body", "GET /plaintext HTTP/1.1\r\nConnection: close\r\n", 3, 'c',
                  "GET /plaintext HTTP/1.1\r\n\r\n", "200 close eof");
    add_with_body("1.0 keep-alive with a body",
                  "GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n", 2, 'k',
                  "GET /plaintext HTTP/1.0\r\n\r\n", "200 200 close eof");
    add_with_body("body of 100,000", "GET /plaintext HTTP/1.1\r\n", 100000, 'x',
                  "GET /one HTTP/1.1\r\n\r\n", "200 200 keep eof");
    add_with_body(
        "body across the buffer's end", "GET /plaintext HTTP/1.1\r\n", 8000, 'y',
        "GET /one HTTP/1.1\r\nX-Pad: "
        "ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
        "ppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp\r\n\r\n",
        "200 200 keep eof");
    add_bodies_pipelined("ten queries with bodies", 10,
                         "200 200 200 200 200 200 200 200 200 200 keep eof");
    ADD("short body", "GET /plaintext HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", "none keep eof");
    ADD("no body", "GET /one HTTP/1.1\r\nContent-Length: 5\r\n\r\n", "none keep eof");
    ADD("answered, then a short body",
        "GET /plaintext HTTP/1.1\r\n\r\nGET /plaintext HTTP/1.1\r\nContent-Length: 9\r\n\r\nab",
        "200 keep eof");
    /* Expect: 100-continue (a 100 is not counted: see run_stream) */
    add_with_body("Expect with its body", "GET /plaintext HTTP/1.1\r\nExpect: 100-continue\r\n", 5,
                  'e', "GET /plaintext HTTP/1.1\r\n\r\n", "200 200 keep eof");
    add_with_body("Expect in capitals", "GET /plaintext HTTP/1.1\r\nExpect: 100-Continue\r\n", 5,
                  'e', "", "200 keep eof");
    ADD("Expect without the body",
        "GET /plaintext HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 20000\r\n\r\n",
        "none keep eof");
    add_with_body("Expect on HTTP/1.0", "GET /plaintext HTTP/1.0\r\nExpect: 100-continue\r\n", 5,
                  'e', "", "200 close eof");
    add_with_body("Expect without a body", "GET /plaintext HTTP/1.1\r\nExpect: 100-continue\r\n", 0,
                  'e', "GET /one HTTP/1.1\r\n\r\n", "200 200 keep eof");
    add_with_body("Expect on HEAD", "HEAD /one HTTP/1.1\r\nExpect: 100-continue\r\n", 7, 'h', "",
                  "200 keep eof");
}

/* ---- mutations: deterministic, from a fixed seed ---- */

static uint32_t rng = 0x6f766c70;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13; /* xorshift32 */
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return n ? rng % n : 0;
}

static const char *const seeds[] = {
    "GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n",
    "GET /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    "HEAD /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "GET /one?x=1 HTTP/1.1\r\nHost: example.com:80\r\nAccept: */*\r\n\r\n",
    "GET /plaintext HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    "GET /plaintext HTTP/1.1\r\n\r\nGET /missing HTTP/1.1\r\nConnection: close\r\n\r\n",
    "DELETE /one HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /plaintext HTTP/1.1\r\n\r\n",
};

static const char *const fields[] = {
    "Content-Length: 0\r\n",
    "Content-Length: 4\r\n",
    "Content-Length: 04\r\n",
    "Content-Length: 4, 4\r\n",
    "Content-Length: -1\r\n",
    "Content-Length:  12 \r\n",
    "Expect: 100-continue\r\n",
    "Expect: 100-continue, foo\r\n",
    "Expect: ,100-continue,\r\n",
    "Connection: close\r\n",
    "Connection: keep-alive\r\n",
    "Connection: Keep-Alive, close\r\n",
    "Transfer-Encoding: chunked\r\n",
    "Host: a\r\n",
    "Host: [::1]:80\r\n",
    "Host: \r\n",
    "X-Empty:\r\n",
    "X-Utf8: \xe2\x82\xac\r\n",
    "\r\n",
};

static const char interesting[] = " :\r\n\t/?09A,\x7f\xff\0";

/* Inserts n bytes of p at `at`, as far as cap allows. */
static size_t insert(char *b, size_t len, size_t at, const char *p, size_t n)
{
    if (len + n > MUTANT_CAP)
        n = MUTANT_CAP - len;
    memmove(b + at + n, b + at, len - at);
    memcpy(b + at, p, n);
    return len + n;
}

/* Where the first line ends (after its LF), or len. */
static size_t after_first_line(const char *b, size_t len)
{
    const char *lf = memchr(b, '\n', len);
    return lf ? (size_t)(lf - b) + 1 : len;
}

static size_t swap_line_ends(char *b, size_t len)
{
    size_t at = rnd((uint32_t)len + 1);
    const char *crlf = memmem(b + at, len - at, "\r\n", 2);
    const char *lf = memchr(b + at, '\n', len - at);
    if (rnd(3) == 0 || !lf)
        return insert(b, len, at, "\r", 1); /* a bare CR */
    if (crlf && rnd(2)) {                   /* CR LF -> LF */
        size_t i = (size_t)(crlf - b);
        memmove(b + i, b + i + 1, len - i - 1);
        return len - 1;
    }
    return insert(b, len, (size_t)(lf - b), "\r", 1); /* LF -> CR LF, or CR CR LF */
}

/* A Content-Length field after the first line, and a body of about that
 * size after the head: exact, short, or with bytes to spare. */
static size_t add_body(char *b, size_t len)
{
    char field[48], body[600];
    size_t want = rnd(500), have = want;
    if (rnd(3) == 0)
        have = rnd((uint32_t)want + 1);
    else if (rnd(3) == 0)
        have = want + rnd(40);
    snprintf(field, sizeof(field), "%sContent-Length: %zu\r\n",
             rnd(4) ? "" : "Expect: 100-continue\r\n", want);
    len = insert(b, len, after_first_line(b, len), field, strlen(field));
    const char *end = memmem(b, len, "\r\n\r\n", 4);
    size_t at = end ? (size_t)(end - b) + 4 : len;
    for (size_t i = 0; i < have; i++)
        body[i] = "GET /x HTTP/1.1\r\n\r\n"[i % 19];
    return insert(b, len, at, body, have);
}

static size_t mutate_once(char *b, size_t len)
{
    size_t at = rnd((uint32_t)len + 1), end;
    const char *f;
    switch (rnd(6)) {
    case 0: /* a byte flipped */
        if (len == 0)
            return len;
        at = rnd((uint32_t)len);
        b[at] = rnd(2) ? interesting[rnd(sizeof(interesting) - 1)] : (char)(b[at] ^ 1 << rnd(8));
        return len;
    case 1: return at; /* cut short */
    case 2:            /* a stretch repeated */
        end = at + rnd((uint32_t)(len - at) + 1);
        return insert(b, len, end, b + at, end - at);
    case 3: return swap_line_ends(b, len);
    case 4:
        f = fields[rnd(sizeof(fields) / sizeof(fields[0]))];
        return insert(b, len, after_first_line(b, len), f, strlen(f));
    default: return add_body(b, len);
    }
}

static void add_mutations(void)
{
    static char b[MUTANT_CAP];
    char name[48];
    for (int i = 0; i < NMUTATIONS; i++) {
        const char *seed = seeds[rnd(sizeof(seeds) / sizeof(seeds[0]))];
        size_t len = strlen(seed);
        memcpy(b, seed, len);
        for (uint32_t k = 1 + rnd(3); k > 0; k--)
            len = mutate_once(b, len);
        snprintf(name, sizeof(name), "mutant %d", i);
        add(name, b, len, NULL);
    }
}

/* ---- what a server does with a stream ---- */

/* The value of Content-Length in the response head [h, h + n), or 0. */
static size_t content_length(const char *h, size_t n)
{
    static const char field[] = "\r\nContent-Length: ";
    const char *f = memmem(h, n, field, sizeof(field) - 1);
    return f ? strtoul(f + sizeof(field) - 1, NULL, 10) : 0;
}

static bool at_response(const char *p, size_t n)
{
    return n >= 9 && !memcmp(p, "HTTP/1.1 ", 9);
}

/* Appends the final statuses of the responses in buf to out and sets
 * *close when the last one said `Connection: close`. False when the bytes
 * are not whole responses one after another. A HEAD's response carries the
 * GET's Content-Length with no body: then the next response (or the end)
 * starts right after the head. */
static bool read_statuses(const char *buf, size_t len, char *out, size_t cap, bool *close)
{
    for (size_t p = 0; p < len;) {
        int status = 0;
        const char *end = memmem(buf + p, len - p, "\r\n\r\n", 4);
        if (!at_response(buf + p, len - p) || !end || sscanf(buf + p + 9, "%3d", &status) != 1)
            return false;
        size_t head_end = (size_t)(end - buf) + 4;
        size_t next = head_end + (status >= 200 ? content_length(buf + p, head_end - p) : 0);
        if (next > len || (next < len && !at_response(buf + next, len - next)))
            next = head_end;
        if (next < len && !at_response(buf + next, len - next))
            return false;
        if (status >= 200) {
            *close = memmem(buf + p, head_end - p, "\r\nConnection: close\r\n", 21) != NULL;
            snprintf(out + strlen(out), cap - strlen(out), "%d ", status);
        }
        p = next;
    }
    return true;
}

/* Sends s on a fresh connection and shuts the sending side, so that every
 * engine ends the connection once it has answered what it can and no case
 * waits for a timer; then reads until the server closes. The outcome: the
 * final statuses in order ("none" for none), "close" or "keep" as the last
 * final response said, and how the connection ended ("eof", "reset", or
 * "hang" when the server did not close). A 100 Continue is left out: whether
 * it is sent depends on whether the rest of the stream had arrived when the
 * server looked, which is timing, not the engine. */
static void run_stream(const struct stream *s, char *out, size_t cap)
{
    struct client *c = client_open();
    bool close = false;
    ssize_t n;
    send_bytes(c, s->data, s->len);
    shutdown(c->fd, SHUT_WR);
    while ((n = read_more(c)) > 0)
        ;
    const char *how = n == 0 ? "eof" : errno == ECONNRESET ? "reset" : "hang";
    out[0] = '\0';
    if (!read_statuses(c->buf, c->len, out, cap, &close))
        snprintf(out, cap, "garbled ");
    else if (!out[0])
        snprintf(out, cap, "none ");
    snprintf(out + strlen(out), cap - strlen(out), "%s %s", close ? "close" : "keep", how);
    client_close(c);
}

/* The first bytes of a stream, printable, for a failure's message. */
static const char *excerpt(const struct stream *s)
{
    static char text[200];
    size_t n = 0;
    for (size_t i = 0; i < s->len && n < sizeof(text) - 5; i++) {
        unsigned char ch = (unsigned char)s->data[i];
        if (ch == '\r' || ch == '\n')
            n += (size_t)sprintf(text + n, ch == '\r' ? "\\r" : "\\n");
        else if (ch < 0x20 || ch >= 0x7f)
            n += (size_t)sprintf(text + n, "\\x%02x", ch);
        else
            text[n++] = (char)ch;
    }
    text[n] = '\0';
    return text;
}

Test(differential, every_engine_answers_the_same_bytes_alike)
{
    struct engine_list list = {0};
    char got[OUTCOME_LEN], first[32] = "";
    int fails = 0, nengines = engine_count();
    cr_assert_geq(nengines, 2,
                  "OVERLAP_ENGINES names %d engine config: the %d mutants are checked only by "
                  "comparing one engine's answers with another's, so at least two must run (the "
                  "default runs six)",
                  nengines, NMUTATIONS);
    add_fixed_cases();
    add_mutations();
    start_db(NULL);
    while (next_engine(&list)) {
        start_server(NULL, NULL);
        for (int i = 0; i < nstreams && fails < MAX_FAILS; i++) {
            const struct stream *s = &streams[i];
            run_stream(s, got, sizeof(got));
            if (s->want && strcmp(got, s->want)) {
                fails++;
                cr_expect_fail("[%s] %s: got '%s', the rules give '%s' (%zu bytes: %s)", engine,
                               s->name, got, s->want, s->len, excerpt(s));
            }
            if (!first[0]) {
                snprintf(first_outcome[i], OUTCOME_LEN, "%s", got);
            } else if (strcmp(got, first_outcome[i])) {
                fails++;
                cr_expect_fail("[%s] %s: got '%s' where [%s] got '%s' (%zu bytes: %s)", engine,
                               s->name, got, first, first_outcome[i], s->len, excerpt(s));
            }
        }
        stop_server();
        if (!first[0])
            snprintf(first, sizeof(first), "%s", engine);
    }
    child_stop(&db, STOP_MS);
    cr_assert_lt(fails, MAX_FAILS, "too many differences: the first %d are above", MAX_FAILS);
}
