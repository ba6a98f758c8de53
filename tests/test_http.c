/* The HTTP layer on its own: the head parser (every split, every limit,
 * malformed input, Host, Expect, reads guarded by a PROT_NONE page),
 * routing, the exact bytes of responses with their Date, the JSON and HTML
 * bodies, and `overlap serve`'s flags for a map cell (serve.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "engines.h"
#include "http.h"

/* ---- a buffer that ends where a PROT_NONE page begins ---- */

static char *guard_base;
static size_t guard_page;

static void guard_setup(void)
{
    guard_page = (size_t)sysconf(_SC_PAGESIZE);
    size_t span = 4 * guard_page; /* room for a 12 KiB head before the guard */
    guard_base =
        mmap(NULL, span + guard_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(guard_base, MAP_FAILED);
    cr_assert_eq(mprotect(guard_base + span, guard_page, PROT_NONE), 0);
}

static void guard_teardown(void)
{
    munmap(guard_base, 5 * guard_page);
}

/* Copies n bytes so that the last one sits just before the guard page: any
 * read past n faults. */
static const char *guarded(const char *s, size_t n)
{
    cr_assert_leq(n, 4 * guard_page);
    char *p = guard_base + 4 * guard_page - n;
    memcpy(p, s, n);
    return p;
}

static int parse(const char *s, struct http_request *req)
{
    size_t n = strlen(s);
    return http_parse_request(guarded(s, n), n, req);
}

TestSuite(http, .init = guard_setup, .fini = guard_teardown);

/* ---- parsing ---- */

static bool field_is(const char *p, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(p, want, n) == 0;
}

Test(http, parses_a_get)
{
    const char *s = "GET /home?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
    struct http_request req;
    cr_assert_eq(parse(s, &req), (int)strlen(s));
    cr_expect(field_is(req.method, req.method_len, "GET"));
    cr_expect(field_is(req.path, req.path_len, "/home?x=1"));
    cr_expect_eq(req.minor, 1);
    cr_expect(req.keep_alive);
    cr_expect_not(req.head);
    cr_expect_eq(req.content_length, 0);
}

Test(http, keep_alive_follows_version_and_connection)
{
    struct http_request req;
    cr_assert_gt(parse("GET / HTTP/1.0\r\n\r\n", &req), 0);
    cr_expect_not(req.keep_alive, "HTTP/1.0 closes by default");
    cr_expect_eq(req.minor, 0);
    cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req), 0);
    cr_expect(req.keep_alive);
    cr_assert_gt(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &req), 0);
    cr_expect_not(req.keep_alive);
    cr_assert_gt(parse("GET / HTTP/1.1\r\nconnection: Upgrade, CLOSE\r\n\r\n", &req), 0);
    cr_expect_not(req.keep_alive, "close anywhere in the token list");
    cr_assert_gt(parse("GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n", &req), 0);
    cr_expect_not(req.keep_alive, "close wins");
    cr_assert_gt(parse("GET / HTTP/1.1\r\nX-Connection: close\r\n\r\n", &req), 0);
    cr_expect(req.keep_alive, "only the Connection header counts");
    cr_assert_gt(parse("GET / HTTP/1.9\r\n\r\n", &req), 0);
    cr_expect_eq(req.minor, 1, "a later 1.x is served as 1.1");
}

Test(http, head_and_content_length)
{
    struct http_request req;
    cr_assert_gt(parse("HEAD /a HTTP/1.1\r\n\r\n", &req), 0);
    cr_expect(req.head);
    cr_assert_gt(parse("GET /a HTTP/1.1\r\nContent-Length: 12\r\n\r\n", &req), 0);
    cr_expect_eq(req.content_length, 12);
    cr_assert_gt(parse("GET /a HTTP/1.1\r\ncontent-length:  7 \r\nContent-Length: 7\r\n\r\n", &req),
                 0);
    cr_expect_eq(req.content_length, 7, "a repeat that agrees is fine");
}

Test(http, bare_lf_leading_blank_lines_and_absolute_form)
{
    struct http_request req;
    const char *s = "GET /x HTTP/1.1\nHost: a\n\n";
    cr_expect_eq(parse(s, &req), (int)strlen(s));
    s = "\r\n\r\nGET /x HTTP/1.1\r\n\r\n";
    cr_expect_eq(parse(s, &req), (int)strlen(s), "empty lines before the request line");
    cr_assert_gt(parse("GET http://example.com/x?q HTTP/1.1\r\n\r\n", &req), 0);
    cr_expect(field_is(req.path, req.path_len, "/x?q"));
    cr_assert_gt(parse("GET http://example.com HTTP/1.1\r\n\r\n", &req), 0);
    cr_expect_eq(req.path_len, 0);
}

Test(http, pipelined_heads_parse_one_at_a_time)
{
    const char *s = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c";
    struct http_request req;
    int n = parse(s, &req);
    cr_assert_eq(n, 19);
    cr_expect(field_is(req.path, req.path_len, "/a"));
    int m = http_parse_request(guarded(s + n, strlen(s + n)), strlen(s + n), &req);
    cr_assert_eq(m, 19);
    cr_expect(field_is(req.path, req.path_len, "/b"));
    cr_expect_eq(http_parse_request(s + n + m, strlen(s + n + m), &req), HTTP_PARTIAL);
}

/* Every prefix of a valid head is partial, and the whole parses the same. */
Test(http, every_split_is_partial_until_whole)
{
    const char *heads[] = {
        "GET /home HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n",
        "HEAD /plaintext?a=b HTTP/1.0\r\nContent-Length: 3\r\n\r\n",
        "\r\nGET / HTTP/1.1\nA: b\n\n",
        "POST /x HTTP/1.1\r\nHost: [::1]:80\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    };
    for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
        size_t n = strlen(heads[h]);
        struct http_request whole, part;
        cr_assert_eq(http_parse_request(guarded(heads[h], n), n, &whole), (int)n);
        for (size_t k = 0; k < n; k++)
            cr_assert_eq(http_parse_request(guarded(heads[h], k), k, &part), HTTP_PARTIAL,
                         "head %zu cut at %zu", h, k);
        cr_expect_eq(whole.keep_alive, h != 1);
    }
}

Test(http, malformed_heads_are_400)
{
    const char *bad[] = {
        " GET / HTTP/1.1\r\n\r\n",              /* no method */
        "GET  / HTTP/1.1\r\n\r\n",              /* two spaces */
        "GET / HTTP/1.1 \r\n\r\n",              /* trailing space */
        "GET /\r\n\r\n",                        /* HTTP/0.9 */
        "GET / HTTP/2.0\r\n\r\n",               /* not 1.x */
        "GET / HTTP/1.1x\r\n\r\n",              /* junk after the version */
        "GET / http/1.1\r\n\r\n",               /* the version is case-sensitive */
        "GET home HTTP/1.1\r\n\r\n",            /* not origin-form */
        "G(T / HTTP/1.1\r\n\r\n",               /* not a token */
        "GET /\x01 HTTP/1.1\r\n\r\n",           /* control in the target */
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",   /* space before the colon */
        "GET / HTTP/1.1\r\nHost a\r\n\r\n",     /* no colon */
        "GET / HTTP/1.1\r\n: a\r\n\r\n",        /* empty name */
        "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", /* obs-fold */
        "GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n",   /* DEL in a value */
        "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",    /* bare CR */
        "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length:\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "\rGET / HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct http_request req;
        cr_expect_eq(parse(bad[i], &req), -400, "case %zu: %s", i, bad[i]);
    }
}

Test(http, a_bad_line_is_refused_before_the_head_ends)
{
    struct http_request req;
    cr_expect_eq(parse("GET / HTTP/1.1\r\nbad line\r\nHost: a", &req), -400);
    cr_expect_eq(parse("FOO BAR\r\n", &req), -400);
}

Test(http, a_head_nul_byte_is_400)
{
    const char s[] = "GET / HTTP/1.1\r\nA: \0b\r\n\r\n";
    struct http_request req;
    cr_expect_eq(http_parse_request(guarded(s, sizeof(s) - 1), sizeof(s) - 1, &req), -400);
}

Test(http, transfer_encoding_is_501)
{
    struct http_request req;
    cr_expect_eq(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &req), -501);
    cr_expect_eq(parse("GET / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", &req), -501);
}

/* A head of exactly `size` bytes, padded with one long header. */
static char *head_of_size(size_t size)
{
    const char *start = "GET / HTTP/1.1\r\nX: ", *end = "\r\n\r\n";
    char *s = malloc(size + 1);
    size_t a = strlen(start), b = strlen(end);
    memcpy(s, start, a);
    memset(s + a, 'x', size - a - b);
    memcpy(s + size - b, end, b);
    s[size] = '\0';
    return s;
}

Test(http, head_size_limit_is_431)
{
    struct http_request req;
    char *s = head_of_size(HTTP_MAX_HEAD);
    cr_expect_eq(parse(s, &req), HTTP_MAX_HEAD, "exactly the limit is fine");
    free(s);
    s = head_of_size(HTTP_MAX_HEAD + 1);
    cr_expect_eq(parse(s, &req), -431);
    s[HTTP_MAX_HEAD] = '\0'; /* the first 8 KiB, no end in sight */
    cr_expect_eq(parse(s, &req), -431);
    s[HTTP_MAX_HEAD - 1] = '\0';
    cr_expect_eq(parse(s, &req), HTTP_PARTIAL, "under the limit it may still end");
    free(s);
}

Test(http, header_count_limit_is_431)
{
    char s[4096] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        strcat(s, "A: b\r\n");
    strcat(s, "\r\n");
    struct http_request req;
    cr_expect_gt(parse(s, &req), 0, "exactly the limit is fine");
    s[strlen(s) - 2] = '\0';
    strcat(s, "A: b\r\n\r\n");
    cr_expect_eq(parse(s, &req), -431);
}

/* Parses s whole (want) and cut at every byte (partial, or already want):
 * the first line to go wrong decides, whatever has arrived after it. */
static void expect_at_every_cut(const char *s, size_t n, int want)
{
    struct http_request req;
    cr_assert_eq(http_parse_request(guarded(s, n), n, &req), want, "%.60s", s);
    for (size_t k = 0; k < n; k++) {
        int r = http_parse_request(guarded(s, k), k, &req);
        cr_assert(r == HTTP_PARTIAL || r == want, "cut at %zu: %d, want partial or %d", k, r, want);
    }
}

/* ---- Host ---- */

static int parse_host_value(const char *value)
{
    char s[512];
    struct http_request req;
    snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost:%s\r\n\r\n", value);
    return parse(s, &req);
}

Test(http, valid_hosts_are_taken)
{
    const char *good[] = {
        " example.com",
        " example.com:8080",
        " localhost:", /* RFC 3986 3.2.3: the port may be empty */
        " 127.0.0.1:80",
        " 256.1.1.1",       /* not an IPv4address, so a reg-name */
        " a-b_c~d.EXAMPLE", /* unreserved */
        " !$&'()*+,;=",     /* sub-delims */
        " %41b%7e",         /* pct-encoded */
        " [::1]",
        " [::1]:8080",
        " [2001:db8::ff00:42:8329]",
        " [1:2:3:4:5:6:7:8]",
        " [1:2:3:4:5:6:7::]",
        " [::2:3:4:5:6:7:8]",
        " [::ffff:192.0.2.128]",
        " [1:2:3:4:5:6:1.2.3.4]",
        " [::]",
        " [v7.fe80::1+zone]", /* IPvFuture */
        "\texample.com\t",    /* OWS around the value */
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_expect_gt(parse_host_value(good[i]), 0, "Host:%s", good[i]);
}

Test(http, invalid_hosts_are_400)
{
    const char *bad[] = {
        " a b",                 /* the task's example: a space inside */
        "",                     /* empty: the target URI has an authority (RFC 9110 7.2) */
        " :80",                 /* an empty host with a port */
        " a:b",                 /* a port is digits */
        " a:80:80",             /* two ports */
        " a/b",                 /* gen-delims are not in a reg-name */
        " user@a",              /* userinfo */
        " a?b",                 /* a query */
        " a#b",                 /* a fragment */
        " %4",                  /* a cut pct-encoded byte */
        " %zz",                 /* not hex */
        " a\"b",                /* not a sub-delim */
        " \xc3\xa9.example",    /* raw UTF-8: a reg-name is ASCII, IDNs come pct-encoded */
        " [::1",                /* an open bracket */
        " ::1",                 /* an IPv6 address needs brackets */
        " [::1]x",              /* junk after the bracket */
        " [::1]:8a",            /* a port is digits */
        " []",                  /* nothing in the brackets */
        " [1:2]",               /* too few pieces */
        " [1:2:3:4:5:6:7:8:9]", /* too many */
        " [1:2:3:4:5:6:7:8::]", /* eight pieces and a gap */
        " [1::2::3]",           /* two gaps */
        " [:::]",               /* three colons */
        " [1:]",                /* a colon at the end */
        " [:1]",                /* a colon at the start */
        " [12345::]",           /* five hex digits */
        " [::1.2.3.256]",       /* a dec-octet over 255 */
        " [::01.2.3.4]",        /* a leading zero */
        " [::1.2.3]",           /* three octets */
        " [::1.2.3.4:1]",       /* IPv4 must come last */
        " [v.x]",               /* IPvFuture without a version */
        " [v1.]",               /* IPvFuture without an address */
        " [v1x]",               /* IPvFuture without its dot */
        " [a.b]",               /* neither IPv6 nor IPvFuture */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(parse_host_value(bad[i]), -400, "case %zu: Host:%s", i, bad[i]);
}

Test(http, host_may_appear_once_and_may_be_missing)
{
    struct http_request req;
    cr_expect_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", &req), -400,
                 "two Host fields, even equal ones (RFC 9112 3.2)");
    cr_expect_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\nHOST: b\r\n\r\n", &req), -400);
    cr_expect_eq(parse("GET / HTTP/1.0\r\nHost: a b\r\n\r\n", &req), -400, "HTTP/1.0 too");
    cr_expect_gt(parse("GET / HTTP/1.1\r\nX-Host: a b\r\n\r\n", &req), 0, "only Host counts");
    cr_expect_gt(parse("GET / HTTP/1.1\r\n\r\n", &req), 0, "a missing Host is tolerated");
    cr_expect_gt(parse("GET / HTTP/1.0\r\n\r\n", &req), 0);
    const char dup[] = "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\nX: y\r\n\r\n";
    expect_at_every_cut(dup, sizeof(dup) - 1, -400);
}

Test(http, absolute_form_needs_a_valid_authority)
{
    struct http_request req;
    cr_assert_gt(parse("GET HTTP://Example.COM:80/x HTTP/1.1\r\n\r\n", &req), 0);
    cr_expect(field_is(req.path, req.path_len, "/x"));
    cr_assert_gt(parse("GET https://[::1]:8080?q HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", &req), 0);
    cr_expect(field_is(req.path, req.path_len, "?q"));
    const char *bad[] = {
        "GET http:///plaintext HTTP/1.1\r\n\r\n", /* empty host: RFC 9110 4.2.1 */
        "GET http:// HTTP/1.1\r\n\r\n",
        "GET http://:80/x HTTP/1.1\r\n\r\n",
        "GET http://user@h/x HTTP/1.1\r\n\r\n", /* userinfo: RFC 9110 4.2.4 */
        "GET http://a b/ HTTP/1.1\r\n\r\n",     /* a space ends the target */
        "GET http://h:x/ HTTP/1.1\r\n\r\n",
        "GET http://[::1/ HTTP/1.1\r\n\r\n",
        "GET http://h#f HTTP/1.1\r\n\r\n",
        "GET http://h%/ HTTP/1.1\r\n\r\n",
        "GET http://a/x HTTP/1.1\r\nHost: a b\r\n\r\n", /* Host ignored, but still valid */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(parse(bad[i], &req), -400, "case %zu: %s", i, bad[i]);
}

/* ---- the request line's limit ---- */

/* `GET /xxx... HTTP/1.1` of exactly `line` bytes (CR LF not counted), then
 * CR LF and the end of the head unless cut. */
static char *request_line_of(size_t line, bool whole)
{
    const char *start = "GET /", *end = " HTTP/1.1";
    size_t a = strlen(start), b = strlen(end), n = line + (whole ? 4 : 0);
    char *s = malloc(n + 1);
    memcpy(s, start, a);
    memset(s + a, 'x', line - a - b);
    memcpy(s + line - b, end, b);
    memcpy(s + line, "\r\n\r\n", whole ? 4 : 0);
    s[n] = '\0';
    return s;
}

Test(http, an_over_long_request_line_is_414)
{
    struct http_request req;
    char *s = request_line_of(HTTP_MAX_REQUEST_LINE, true);
    cr_expect_eq(parse(s, &req), HTTP_MAX_REQUEST_LINE + 4, "exactly the limit is fine");
    cr_expect_eq(req.path_len, HTTP_MAX_REQUEST_LINE - 13);
    s[HTTP_MAX_REQUEST_LINE + 1] = '\0';
    cr_expect_eq(parse(s, &req), HTTP_PARTIAL, "the limit and a CR: its LF may come");
    free(s);
    s = request_line_of(HTTP_MAX_REQUEST_LINE + 1, true);
    cr_expect_eq(parse(s, &req), -414, "one byte more");
    free(s);
    s = request_line_of(HTTP_MAX_REQUEST_LINE + 1, false);
    cr_expect_eq(parse(s, &req), -414, "known before the line ends");
    s[HTTP_MAX_REQUEST_LINE] = '\0';
    cr_expect_eq(parse(s, &req), HTTP_PARTIAL, "at the limit it may still end");
    free(s);
    s = request_line_of(3 * HTTP_MAX_HEAD / 2, true);
    expect_at_every_cut(s, strlen(s), -414);
    free(s);
}

Test(http, a_request_line_past_the_head_limit_is_414_not_431)
{
    /* empty lines first, so the line is short enough but cannot end in time */
    size_t blank = HTTP_MAX_HEAD - HTTP_MAX_REQUEST_LINE / 2, n = blank + HTTP_MAX_REQUEST_LINE;
    char *s = malloc(n + 1);
    memset(s, '\n', blank);
    char *line = request_line_of(HTTP_MAX_REQUEST_LINE - 1, true);
    memcpy(s + blank, line, HTTP_MAX_REQUEST_LINE);
    s[n] = '\0';
    expect_at_every_cut(s, n, -414);
    free(line);
    free(s);
}

/* ---- Expect ---- */

Test(http, expect_100_continue_is_recorded_for_a_body)
{
    struct http_request req;
    cr_assert_gt(
        parse("POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", &req), 0);
    cr_expect(req.expect_continue);
    cr_assert_gt(
        parse("POST /a HTTP/1.1\r\nContent-Length: 5\r\nEXPECT:  100-Continue \r\n\r\n", &req), 0);
    cr_expect(req.expect_continue, "any case, any order, OWS around");
    cr_assert_gt(
        parse("POST /a HTTP/1.1\r\nExpect: ,100-continue, ,\r\nContent-Length: 1\r\n\r\n", &req),
        0);
    cr_expect(req.expect_continue, "empty list members are skipped");
    cr_assert_gt(parse("GET /a HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", &req), 0);
    cr_expect_not(req.expect_continue, "no body, nothing to wait for");
    cr_assert_gt(
        parse("POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n", &req), 0);
    cr_expect_not(req.expect_continue, "an empty body neither");
    cr_assert_gt(
        parse("POST /a HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", &req), 0);
    cr_expect_not(req.expect_continue, "HTTP/1.0 ignores it (RFC 9110 10.1.1)");
    cr_assert_gt(parse("POST /a HTTP/1.1\r\nExpect:\r\nContent-Length: 5\r\n\r\n", &req), 0);
    cr_expect_not(req.expect_continue, "an empty Expect expects nothing");
    cr_assert_gt(
        parse("POST /a HTTP/1.1\r\nX-Expect: 100-continue\r\nContent-Length: 5\r\n\r\n", &req), 0);
    cr_expect_not(req.expect_continue, "only Expect counts");
}

Test(http, other_expectations_are_417)
{
    const char *bad[] = {
        "POST /a HTTP/1.1\r\nExpect: the-unexpected\r\nContent-Length: 5\r\n\r\n",
        "POST /a HTTP/1.1\r\nExpect: 100-continue, x\r\nContent-Length: 5\r\n\r\n",
        "POST /a HTTP/1.1\r\nExpect: 100-continue=1\r\nContent-Length: 5\r\n\r\n",
        "POST /a HTTP/1.1\r\nExpect: 100-continue;a=b\r\nContent-Length: 5\r\n\r\n",
        "POST /a HTTP/1.1\r\nExpect: 100-continuee\r\n\r\n",
        "POST /a HTTP/1.1\r\nExpect: 100 continue\r\n\r\n",
        "POST /a HTTP/1.1\r\nExpect: 100-continue\r\nExpect: 200-ok\r\n\r\n",
        "GET /a HTTP/1.0\r\nExpect: x\r\n\r\n", /* unknown in any version */
    };
    struct http_request req;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(parse(bad[i], &req), -417, "case %zu: %s", i, bad[i]);
    const char *s = bad[0];
    expect_at_every_cut(s, strlen(s), -417);
}

/* ---- routes ---- */

static struct wl_workload *wl;
static char wl_dir[256];

static time_t suite_began;

static void load_workload(void)
{
    char path[300], err[WL_ERR_LEN];
    suite_began = time(NULL);
    guard_setup();
    cr_assert_eq(child_tmpdir(wl_dir, sizeof(wl_dir)), 0);
    snprintf(path, sizeof(path), "%s/w.ini", wl_dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("[database]\ndataset = techempower\n"
          "[query.world]\nsql = SELECT id, randomNumber FROM World WHERE id = ?\n"
          "params = int 1 10000\nlatency = fixed 10ms\n"
          "[query.fortune]\nsql = SELECT id, message FROM Fortune\nlatency = fixed 1ms\n"
          "[request.home]\nsteps = cpu 500us, query world, cpu 500us\n"
          "[request.page]\nrender = html\nsteps = query fortune, query fortune\n",
          f);
    fclose(f);
    cr_assert_eq(wl_load(path, &wl, err, sizeof(err)), 0, "%s", err);
    unlink(path);
    rmdir(wl_dir);
}

static void free_workload(void)
{
    wl_free(wl);
    guard_teardown();
}

TestSuite(http_out, .init = load_workload, .fini = free_workload);

static int route(const char *head)
{
    struct http_request req;
    cr_assert_gt(parse(head, &req), 0, "%s", head);
    return http_route(wl, &req);
}

Test(http_out, routes)
{
    cr_expect_eq(route("GET /home HTTP/1.1\r\n\r\n"), 0);
    cr_expect_eq(route("GET /page?x=1 HTTP/1.1\r\n\r\n"), 1);
    cr_expect_eq(route("HEAD /home HTTP/1.1\r\n\r\n"), 0);
    cr_expect_eq(route("GET /plaintext HTTP/1.1\r\n\r\n"), HTTP_ROUTE_PLAINTEXT);
    cr_expect_eq(route("GET /plaintext?a HTTP/1.1\r\n\r\n"), HTTP_ROUTE_PLAINTEXT);
    cr_expect_eq(route("GET / HTTP/1.1\r\n\r\n"), -404);
    cr_expect_eq(route("GET /nothing HTTP/1.1\r\n\r\n"), -404);
    cr_expect_eq(route("GET /home/ HTTP/1.1\r\n\r\n"), -404);
    cr_expect_eq(route("GET /homes HTTP/1.1\r\n\r\n"), -404);
    cr_expect_eq(route("GET * HTTP/1.1\r\n\r\n"), -404);
    cr_expect_eq(route("POST /home HTTP/1.1\r\n\r\n"), -405);
    cr_expect_eq(route("get /home HTTP/1.1\r\n\r\n"), -405, "methods are case-sensitive");
    cr_expect_eq(route("DELETE /nothing HTTP/1.1\r\n\r\n"), -405, "the method is checked first");
}

/* ---- responses ---- */

static void expect_bytes(const struct http_buf *b, const char *want)
{
    cr_expect_eq(b->len, strlen(want), "length %zu, want %zu: %.*s", b->len, strlen(want),
                 (int)b->len, b->data);
    cr_expect(b->len == strlen(want) && memcmp(b->data, want, b->len) == 0, "got:\n%.*s\nwant:\n%s",
              (int)b->len, b->data, want);
}

/* What a response's Date line is compared as: RFC 9110's own example. */
#define DATE "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"

/* A response carries the time it was written, so its Date comes right after
 * the status line, is well-formed, and lies between the test's start and
 * now; then its value is replaced by DATE's and every byte compared. */
static void expect_response(const struct http_buf *b, const char *want)
{
    char copy[4096], value[HTTP_DATE_LEN + 1];
    time_t t, now = time(NULL);
    const char *lf = memchr(b->data, '\n', b->len);
    cr_assert_not_null(lf, "no status line: %.*s", (int)b->len, b->data);
    size_t at = (size_t)(lf + 1 - b->data) + strlen("Date: ");
    cr_assert_leq(at + HTTP_DATE_LEN + 2, b->len);
    cr_assert(memcmp(lf + 1, "Date: ", 6) == 0, "Date second: %.*s", (int)b->len, b->data);
    memcpy(value, b->data + at, HTTP_DATE_LEN);
    value[HTTP_DATE_LEN] = '\0';
    cr_expect(parse_imf_fixdate(value, &t), "an IMF-fixdate: '%s'", value);
    cr_expect(t >= suite_began && t <= now, "%s is the time of writing", value);
    cr_assert_lt(b->len, sizeof(copy));
    memcpy(copy, b->data, b->len);
    memcpy(copy + at, &DATE[6], HTTP_DATE_LEN);
    struct http_buf seen = {.data = copy, .len = b->len, .cap = sizeof(copy)};
    expect_bytes(&seen, want);
}

Test(http_out, plaintext_response)
{
    struct http_buf out;
    struct http_request req;
    http_buf_init(&out);
    cr_assert_gt(parse("GET /plaintext HTTP/1.1\r\n\r\n", &req), 0);
    cr_assert_eq(http_write_plaintext(&out, &req, true), 0);
    expect_response(&out, "HTTP/1.1 200 OK\r\n" DATE
                          "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
                          "Hello, World!");
    out.len = 0;
    cr_assert_gt(parse("HEAD /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &req), 0);
    cr_assert_eq(http_write_plaintext(&out, &req, true), 0);
    expect_response(&out,
                    "HTTP/1.1 200 OK\r\n" DATE "Content-Type: text/plain\r\nContent-Length: 13\r\n"
                    "Connection: keep-alive\r\n\r\n");
    http_buf_free(&out);
}

Test(http_out, error_responses)
{
    struct http_buf out;
    struct http_request req;
    http_buf_init(&out);
    cr_assert_eq(http_write_error(&out, NULL, 400, NULL, false), 0);
    expect_response(&out, "HTTP/1.1 400 Bad Request\r\n" DATE
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "Content-Length: 16\r\nConnection: close\r\n\r\n400 Bad Request\n");
    out.len = 0;
    cr_assert_gt(parse("PUT /home HTTP/1.1\r\n\r\n", &req), 0);
    cr_assert_eq(http_write_error(&out, &req, 405, NULL, true), 0);
    expect_response(&out, "HTTP/1.1 405 Method Not Allowed\r\n" DATE "Content-Type: text/plain; "
                          "charset=utf-8\r\nContent-Length: 23\r\nAllow: GET, HEAD\r\n\r\n"
                          "405 Method Not Allowed\n");
    out.len = 0;
    cr_assert_gt(parse("HEAD /home HTTP/1.1\r\n\r\n", &req), 0);
    cr_assert_eq(http_write_error(&out, &req, 503, "database unreachable", true), 0);
    expect_response(&out, "HTTP/1.1 503 Service Unavailable\r\n" DATE "Content-Type: text/plain; "
                          "charset=utf-8\r\nContent-Length: 46\r\n\r\n");
    out.len = 0;
    char long_reason[600];
    memset(long_reason, 'r', sizeof(long_reason) - 1);
    long_reason[sizeof(long_reason) - 1] = '\0';
    cr_assert_eq(http_write_error(&out, NULL, 500, long_reason, true), 0);
    cr_expect_eq(out.data[out.len - 1], '\n', "a long reason is cut, still one line");
    http_buf_free(&out);
}

Test(http_out, server_timing_lists_phases_in_order)
{
    struct http_buf out;
    struct http_request req;
    http_buf_init(&out);
    cr_assert_gt(parse("GET /home HTTP/1.1\r\nConnection: close\r\n\r\n", &req), 0);
    uint64_t phases[] = {12345, 500999, 10087000, 999};
    cr_assert_eq(http_write_response(&out, &req, 200, "application/json", wl, 0, phases, 4, 498765,
                                     false, "{}", 2),
                 0);
    expect_response(&out, "HTTP/1.1 200 OK\r\n" DATE
                          "Content-Type: application/json\r\nContent-Length: 2\r\n"
                          "Connection: close\r\nServer-Timing: queue;dur=0.012, cpu;dur=0.501, "
                          "db;dur=10.087, cpu;dur=0.001, cpu-time;dur=0.499\r\n\r\n{}");
    out.len = 0;
    cr_assert_eq(http_write_response(&out, &req, 200, "application/json", wl, 0, phases, 2, 1000,
                                     true, "{}", 2),
                 0);
    cr_expect(
        strstr(out.data, "Server-Timing: queue;dur=0.012, cpu;dur=0.501, cpu-time;dur=0.001\r\n") !=
            NULL,
        "a request cut short lists the phases it ran, and the CPU time of its cpu steps");
    out.len = 0;
    cr_assert_eq(http_write_response(&out, &req, 200, "application/json", wl, 0, phases, 1, 0, true,
                                     "{}", 2),
                 0);
    cr_expect(strstr(out.data, "Server-Timing: queue;dur=0.012\r\n") != NULL,
              "no cpu step ran: no cpu-time");
    http_buf_free(&out);
}

static struct db_value int_v(int64_t i)
{
    return (struct db_value){.type = DB_INT, .i = i};
}

static struct db_value real_v(double r)
{
    return (struct db_value){.type = DB_REAL, .r = r};
}

static struct db_value text_v(const char *s)
{
    return (struct db_value){.type = DB_TEXT, .len = (uint32_t)strlen(s), .text = s};
}

Test(http_out, json_body)
{
    struct db_value v[] = {int_v(4174),
                           int_v(-3),
                           real_v(0.1),
                           (struct db_value){.type = DB_NULL},
                           text_v("a\"b\\c\n\t\x01 \xc3\xa9"),
                           int_v(9223372036854775807LL)};
    struct db_result two = {.ncols = 2, .nrows = 3, .values = v};
    struct db_result none = {.ncols = 2, .nrows = 0, .values = v};
    struct http_buf body;
    http_buf_init(&body);
    cr_assert_eq(http_body_begin(&body, wl, 0), 0);
    cr_assert_eq(http_body_add(&body, wl, 0, 0, &two), 0);
    cr_assert_eq(http_body_add(&body, wl, 0, 1, &none), 0);
    cr_assert_eq(http_body_end(&body, wl, 0), 0);
    expect_bytes(&body, "{\"request\":\"home\",\"results\":[{\"query\":\"world\",\"rows\":"
                        "[[4174,-3],[0.10000000000000001,null],"
                        "[\"a\\\"b\\\\c\\n\\t\\u0001 \xc3\xa9\",9223372036854775807]]},"
                        "{\"query\":\"fortune\",\"rows\":[]}]}");
    cr_expect_str_eq(http_content_type(wl, 0), "application/json");
    http_buf_free(&body);
}

Test(http_out, html_body_escapes_every_text)
{
    struct db_value v[] = {int_v(11), text_v("<script>alert(\"x\" & 'y')</script>"), int_v(2),
                           (struct db_value){.type = DB_NULL}};
    struct db_result res = {.ncols = 2, .nrows = 2, .values = v};
    struct http_buf body;
    http_buf_init(&body);
    cr_assert_eq(http_body_begin(&body, wl, 1), 0);
    cr_assert_eq(http_body_add(&body, wl, 1, 1, &res), 0);
    cr_assert_eq(http_body_end(&body, wl, 1), 0);
    expect_bytes(&body, "<!DOCTYPE html><html><head><title>page</title></head><body>"
                        "<table><caption>fortune</caption>"
                        "<tr><td>11</td><td>&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)"
                        "&lt;/script&gt;</td></tr><tr><td>2</td><td></td></tr></table>"
                        "</body></html>");
    cr_expect_str_eq(http_content_type(wl, 1), "text/html; charset=utf-8");
    http_buf_free(&body);
}

Test(http_out, buffers_grow_and_consume)
{
    struct http_buf b;
    http_buf_init(&b);
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(http_buf_append(&b, "abc", 3), 0);
    cr_expect_eq(b.len, 30000);
    cr_expect_geq(b.cap, 30000);
    http_buf_consume(&b, 29998);
    cr_expect_eq(b.len, 2);
    cr_expect(memcmp(b.data, "bc", 2) == 0);
    http_buf_consume(&b, 5);
    cr_expect_eq(b.len, 0);
    cr_expect_eq(http_buf_reserve(&b, (size_t)-1 / 2 + 2), -ENOMEM);
    http_buf_free(&b);
    cr_expect_null(b.data);
}

Test(http_out, status_texts)
{
    cr_expect_str_eq(http_status_text(431), "Request Header Fields Too Large");
    cr_expect_str_eq(http_status_text(504), "Gateway Timeout");
    cr_expect_str_eq(http_status_text(501), "Not Implemented");
    cr_expect_str_eq(http_status_text(414), "URI Too Long");
    cr_expect_str_eq(http_status_text(417), "Expectation Failed");
    cr_expect_str_eq(http_status_text(100), "Continue");
}

Test(http_out, dates_are_imf_fixdate)
{
    const struct {
        time_t t;
        const char *want;
    } cases[] = {
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"}, /* RFC 9110 5.6.7's example */
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
        {1704067199, "Sun, 31 Dec 2023 23:59:59 GMT"},
        {2147483648, "Tue, 19 Jan 2038 03:14:08 GMT"}, /* past a 32-bit time_t */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[HTTP_DATE_LEN + 1];
        time_t back;
        http__format_date(cases[i].t, out);
        cr_expect_str_eq(out, cases[i].want);
        cr_expect(parse_imf_fixdate(out, &back) && back == cases[i].t, "%s reads back", out);
    }
}

Test(http_out, every_response_has_its_date_second)
{
    struct http_buf out;
    struct http_request req;
    uint64_t phases[] = {1000};
    http_buf_init(&out);
    cr_assert_gt(parse("HEAD /home HTTP/1.0\r\n\r\n", &req), 0);
    cr_assert_eq(
        http_write_response(&out, &req, 200, "text/html", wl, 0, phases, 1, 0, false, "", 0), 0);
    expect_response(&out, "HTTP/1.1 200 OK\r\n" DATE "Content-Type: text/html\r\n"
                          "Content-Length: 0\r\nConnection: close\r\n"
                          "Server-Timing: queue;dur=0.001\r\n\r\n");
    for (int status = 414; status <= 417; status += 3) {
        out.len = 0;
        cr_assert_eq(http_write_error(&out, NULL, status, NULL, false), 0);
        const char *lf = memchr(out.data, '\n', out.len);
        cr_expect(lf && memcmp(lf + 1, "Date: ", 6) == 0, "%d: Date second", status);
    }
    http_buf_free(&out);
}

/* The Date a thread keeps is its second's: once the clock has moved on, the
 * next response says so. Waits for the next second, asserts no duration. */
static time_t written_date(struct http_buf *out)
{
    char value[HTTP_DATE_LEN + 1];
    time_t t = 0;
    out->len = 0;
    cr_assert_eq(http_write_plaintext(out, NULL, true), 0);
    memcpy(value, out->data + strlen("HTTP/1.1 200 OK\r\nDate: "), HTTP_DATE_LEN);
    value[HTTP_DATE_LEN] = '\0';
    cr_assert(parse_imf_fixdate(value, &t), "'%s'", value);
    return t;
}

Test(http_out, the_date_follows_the_clock)
{
    struct http_buf out;
    http_buf_init(&out);
    time_t first = written_date(&out);
    while (time(NULL) == first)
        usleep(10000);
    cr_expect_gt(written_date(&out), first, "a new second, a new Date");
    http_buf_free(&out);
}

Test(http_out, continue_is_an_interim_response_alone)
{
    struct http_buf out;
    http_buf_init(&out);
    cr_assert_eq(http_buf_append(&out, "x", 1), 0);
    cr_assert_eq(http_write_continue(&out), 0);
    expect_bytes(&out, "xHTTP/1.1 100 Continue\r\n\r\n");
    http_buf_free(&out);
}

/* ---- `overlap serve`'s flags for a map cell ---- */

static int parse_serve(const char *workload, const char *flag, const char *value,
                       struct serve_config *cfg)
{
    char *argv[] = {"serve", "--engine",          "pool",       "--workload",  (char *)workload,
                    "--db",  "unix:/nonexistent", (char *)flag, (char *)value, NULL};
    int status = -1;
    int rc = serve_parse_args(9, argv, cfg, &status);
    return rc < 0 ? status : 0;
}

Test(serve, burn_rate_takes_iterations_per_microsecond_and_refuses_the_rest)
{
    struct serve_config cfg;
    const char *seed = OVERLAP_SOURCE_DIR "/workloads/seed.ini";
    const char *bad[] = {"0", "-3", "fast", "", "1e7", "nan", "inf", "12x", "0.5", " 5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(parse_serve(seed, "--burn-rate", bad[i], &cfg), 2, "--burn-rate '%s'", bad[i]);
    cr_assert_eq(parse_serve(seed, "--burn-rate", "1500.25", &cfg), 0);
    cr_expect_float_eq(wl_burn_iters_per_us(), 1500.25, 1e-9, "the burner runs at the rate given");
    serve_config_free(&cfg);
}

Test(serve, vary_flags_move_the_workload_and_refuse_the_rest)
{
    struct serve_config cfg;
    const char *seed = OVERLAP_SOURCE_DIR "/workloads/seed.ini";
    const char *bad[] = {"0", "0ms", "soon", "-1ms", "1 ms", "", "2h"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(parse_serve(seed, "--vary-cpu", bad[i], &cfg), 2, "--vary-cpu '%s'", bad[i]);
        cr_expect_eq(parse_serve(seed, "--vary-wait", bad[i], &cfg), 2, "--vary-wait '%s'", bad[i]);
    }
    cr_assert_eq(parse_serve(seed, "--vary-cpu", "100us", &cfg), 0);
    cr_expect_float_eq(wl_mean_cpu_ns(cfg.wl), 100e3, 1.0, "the seed's 1 ms moved to 100 us");
    serve_config_free(&cfg);
    cr_assert_eq(parse_serve(seed, "--vary-wait", "25ms", &cfg), 0);
    cr_expect_float_eq(wl_mean_wait_ns(cfg.wl), 25e6, 1.0, "its 10 ms query moved to 25 ms");
    serve_config_free(&cfg);
    char path[] = "/tmp/overlap-serve-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("[workload]\nname = q\n[database]\ndataset = techempower\n[query.a]\n"
          "sql = SELECT 1\nlatency = fixed 1ms\n[request.r]\nsteps = query a\n",
          f);
    fclose(f);
    cr_expect_eq(parse_serve(path, "--vary-cpu", "1ms", &cfg), 2, "no cpu step to scale");
    unlink(path);
}
