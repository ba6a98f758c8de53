/* libFuzzer target: the request-head parser must turn any bytes into a head,
 * "partial" or an error status, never read past its input, and decide the
 * same whether the bytes arrive whole or cut short. Parsed heads are routed
 * and answered (after 100 Continue when the head expects it, with Date
 * right after the status line), and the input is rendered as a JSON and an
 * HTML value. */
#include "fuzz_file.h" /* first: it sets _GNU_SOURCE */
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PREFIX_CHECK_MAX 2048 /* every prefix of inputs up to this size: O(n^2) */

static const char workload[] = "[database]\ndataset = techempower\n"
                               "[query.q]\nsql = SELECT ?\nparams = int 1 9\nlatency = fixed 1ms\n"
                               "[request.home]\nsteps = cpu 1us, query q\n"
                               "[request.page]\nrender = html\nsteps = query q\n";

static struct wl_workload *load_workload(void)
{
    char err[WL_ERR_LEN];
    struct wl_workload *wl;
    if (wl_load(fuzz_file(workload, sizeof(workload) - 1), &wl, err, sizeof(err)) < 0)
        abort();
    return wl;
}

static void check_head(const char *buf, size_t size, int r, const struct http_request *req)
{
    if ((size_t)r > size || r > HTTP_MAX_HEAD)
        abort();
    if (req->method < buf || req->method + req->method_len > buf + r || req->path < buf ||
        req->path + req->path_len > buf + r || req->minor < 0 || req->minor > 1)
        abort();
    if (req->expect_continue && (req->minor != 1 || req->content_length == 0))
        abort(); /* only an HTTP/1.1 request with a body waits for 100 Continue */
}

/* Date comes right after the status line of the response at out[start]. */
static void check_date(const struct http_buf *out, size_t start)
{
    const char *lf = memchr(out->data + start, '\n', out->len - start);
    if (!lf || out->data + out->len - lf < 8 || memcmp(lf + 1, "Date: ", 6))
        abort();
}

static void answer(struct wl_workload *wl, const struct http_request *req, struct http_buf *out)
{
    int route = http_route(wl, req);
    uint64_t phases[3] = {1, 2, 3};
    static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n";
    size_t start = req->expect_continue ? sizeof(interim) - 1 : 0;
    out->len = 0;
    if (start &&
        (http_write_continue(out) < 0 || out->len != start || memcmp(out->data, interim, start)))
        abort();
    if (route == HTTP_ROUTE_PLAINTEXT)
        http_write_plaintext(out, req, req->keep_alive);
    else if (route < 0)
        http_write_error(out, req, -route, NULL, req->keep_alive);
    else
        http_write_response(out, req, 200, http_content_type(wl, route), wl, route, phases, 3, 1000,
                            req->keep_alive, "{}", 2);
    if (route != -404 && route != -405 && (route < HTTP_ROUTE_PLAINTEXT || route >= wl->nrequests))
        abort();
    check_date(out, start);
}

static void render(struct wl_workload *wl, const char *text, size_t len, struct http_buf *body)
{
    struct db_value v[2] = {{.type = DB_TEXT, .len = (uint32_t)len, .text = text},
                            {.type = DB_INT, .i = (int64_t)len}};
    struct db_result res = {.ncols = 2, .nrows = 1, .values = v};
    for (int request = 0; request < 2; request++) {
        http_body_begin(body, wl, request);
        http_body_add(body, wl, request, 0, &res);
        http_body_end(body, wl, request);
        for (size_t i = 0; request == 0 && i < body->len; i++)
            if ((unsigned char)body->data[i] < 0x20)
                abort(); /* JSON strings escape every control character */
        if (request == 1 && memchr(body->data, '"', body->len))
            abort(); /* no quote survives HTML escaping */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct wl_workload *wl;
    static struct http_buf out, body;
    if (!wl)
        wl = load_workload();
    /* a private copy of exactly size bytes, so ASan sees any over-read */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    struct http_request req, part;
    int r = http_parse_request(buf, size, &req);
    if (r > 0) {
        check_head(buf, size, r, &req);
        answer(wl, &req, &out);
    } else if (r == -400 || r == -414 || r == -417 || r == -431 || r == -501) {
        out.len = 0;
        http_write_error(&out, NULL, -r, NULL, false);
        check_date(&out, 0);
    } else if (r != HTTP_PARTIAL) {
        abort();
    }
    if (size <= PREFIX_CHECK_MAX) {
        size_t end = r > 0 ? (size_t)r : size;
        for (size_t k = 0; k < end; k++) {
            int p = http_parse_request(buf, k, &part);
            if (p != HTTP_PARTIAL && (r > 0 || p != r))
                abort(); /* a prefix is partial, or already the whole's error */
        }
    }
    render(wl, buf, size, &body);
    free(buf);
    return 0;
}
