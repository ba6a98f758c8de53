/* `overlap plot`: every chart drawn from the fixture results folder in
 * tests/fixtures/results, each PNG a real image of a plausible size, each SVG
 * well-formed, report.html self-contained; a broken script or a missing
 * gnuplot fails with a message that names the script. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "plot.h"

#define FIXTURE OVERLAP_SOURCE_DIR "/tests/fixtures/results"
#define SCRIPTS OVERLAP_SOURCE_DIR "/plots"

static const char *charts[] = {"timeline", "throughput", "latency",
                               "spectrum", "cost",       "efficiency"};
#define NCHARTS (sizeof(charts) / sizeof(charts[0]))

static char tmp[256];

static void setup(void)
{
    cr_assert_eq(child_tmpdir(tmp, sizeof(tmp)), 0);
}

static void teardown(void)
{
    child_tmpdir_remove(tmp);
}

TestSuite(plot, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers ---- */

/* The whole file, NUL-terminated (a PNG has NULs of its own: len says where it ends). */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    struct stat st;
    cr_assert_eq(fstat(fileno(f), &st), 0);
    char *text = malloc((size_t)st.st_size + 1);
    cr_assert_not_null(text);
    size_t n = fread(text, 1, (size_t)st.st_size, f);
    fclose(f);
    text[n] = '\0';
    if (len)
        *len = n;
    return text;
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* A copy of the fixture folder under tmp; returns its path. */
static const char *fixture_copy(const char *name)
{
    static char dir[512];
    char cmd[1200];
    snprintf(dir, sizeof(dir), "%s/%s", tmp, name);
    snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", FIXTURE, dir);
    cr_assert_eq(system(cmd), 0);
    return dir;
}

/* Runs `overlap plot ARGS` with stdout and stderr in out; returns the exit
 * status. path_env replaces PATH when not NULL. */
static int run_plot(const char *const *args, const char *path_env, char *out, size_t len)
{
    char log[600];
    snprintf(log, sizeof(log), "%s/plot.out", tmp);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        if (path_env)
            setenv("PATH", path_env, 1);
        const char *argv[16] = {OVERLAP_BIN, "plot"};
        for (int i = 0; args[i] && i < 13; i++)
            argv[i + 2] = args[i];
        execv(OVERLAP_BIN, (char *const *)argv);
        _exit(127);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    char *text = slurp(log, NULL);
    snprintf(out, len, "%s", text);
    free(text);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static unsigned be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

/* A PNG: the signature, an IHDR with a chart's dimensions, an IEND, and
 * enough bytes that something was drawn (an empty 1280x800 canvas
 * compresses to a few KiB). */
static void expect_png(const char *path)
{
    size_t len;
    unsigned char *png = (unsigned char *)slurp(path, &len);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    cr_assert_gt(len, 33, "%s: too short for a PNG", path);
    cr_expect_eq(memcmp(png, sig, 8), 0, "%s: not a PNG", path);
    cr_expect_eq(memcmp(png + 12, "IHDR", 4), 0, "%s: no IHDR", path);
    unsigned w = be32(png + 16), h = be32(png + 20);
    cr_expect(w >= 800 && w <= 4000, "%s: width %u", path, w);
    cr_expect(h >= 400 && h <= 4000, "%s: height %u", path, h);
    cr_expect_eq(memcmp(png + len - 8, "IEND", 4), 0, "%s: no IEND at the end", path);
    cr_expect_gt(len, 20000, "%s: %zu bytes, too few for a drawn chart", path, len);
    cr_expect_lt(len, 2000000, "%s: %zu bytes, implausibly many", path, len);
    free(png);
}

/* ---- a small XML well-formedness check ---- */

#define MAX_IDS 4096

struct xml {
    const char *path;
    int elements;
    int nids, nrefs;
    char ids[MAX_IDS][64], refs[MAX_IDS][64];
    int svgs;
};

/* Collects id='x' and references (href='#x', url(#x)) from one tag. */
static void scan_attrs(struct xml *x, const char *tag, size_t len)
{
    for (size_t i = 0; i + 5 < len; i++) {
        const char *p = tag + i;
        int is_id = !strncmp(p, " id=", 4) || !strncmp(p, "\tid=", 4) || !strncmp(p, "\nid=", 4);
        int is_ref = !strncmp(p, "href=", 5) && (p[5] == '"' || p[5] == '\'') && p[6] == '#';
        if (is_id && x->nids < MAX_IDS) {
            const char *v = p + 5;
            size_t n = strcspn(v, "'\"");
            snprintf(x->ids[x->nids++], 64, "%.*s", (int)n, v);
        } else if (is_ref && x->nrefs < MAX_IDS) {
            const char *v = p + 7;
            size_t n = strcspn(v, "'\"");
            snprintf(x->refs[x->nrefs++], 64, "%.*s", (int)n, v);
        } else if (!strncmp(p, "url(#", 5) && x->nrefs < MAX_IDS) {
            const char *v = p + 5;
            size_t n = strcspn(v, ")");
            snprintf(x->refs[x->nrefs++], 64, "%.*s", (int)n, v);
        }
    }
}

/* Checks that text is well-formed XML (declarations, comments, CDATA, and
 * balanced elements with quoted attributes); fills x. Returns an error
 * message or NULL. */
static const char *check_xml(const char *text, struct xml *x)
{
    static char err[256];
    const char *stack[512];
    size_t stack_len[512];
    int depth = 0, roots = 0;
    for (const char *p = text; *p;) {
        if (*p != '<') {
            if (*p == '&' && !strchr(p, ';'))
                return "an unterminated entity";
            p++;
            continue;
        }
        if (!strncmp(p, "<!--", 4)) {
            const char *end = strstr(p, "-->");
            if (!end)
                return "an unterminated comment";
            p = end + 3;
        } else if (!strncmp(p, "<![CDATA[", 9)) {
            const char *end = strstr(p, "]]>");
            if (!end)
                return "an unterminated CDATA section";
            p = end + 3;
        } else if (p[1] == '?' || p[1] == '!') {
            const char *end = strchr(p, '>');
            if (!end)
                return "an unterminated declaration";
            p = end + 1;
        } else {
            /* a tag: find its end outside quotes */
            const char *q = p + 1;
            char quote = 0;
            for (; *q && (quote || *q != '>'); q++) {
                if (quote && *q == quote)
                    quote = 0;
                else if (!quote && (*q == '"' || *q == '\''))
                    quote = *q;
                else if (!quote && *q == '<')
                    return "a '<' inside a tag";
            }
            if (!*q)
                return "an unterminated tag";
            size_t len = (size_t)(q - p) + 1;
            int closing = p[1] == '/', empty = q[-1] == '/';
            const char *name = p + 1 + closing;
            size_t nlen = strcspn(name, " \t\r\n/>");
            if (nlen == 0)
                return "a tag without a name";
            if (closing) {
                if (depth == 0 || stack_len[depth - 1] != nlen ||
                    strncmp(stack[depth - 1], name, nlen) != 0) {
                    snprintf(err, sizeof(err), "</%.*s> closes %s", (int)nlen, name,
                             depth ? "another element" : "nothing");
                    return err;
                }
                depth--;
            } else {
                x->elements++;
                x->svgs += nlen == 3 && !strncmp(name, "svg", 3);
                scan_attrs(x, p, len);
                if (depth == 0)
                    roots++;
                if (!empty) {
                    if (depth == 512)
                        return "elements nested too deep";
                    stack[depth] = name;
                    stack_len[depth++] = nlen;
                }
            }
            p = q + 1;
        }
    }
    if (depth != 0) {
        snprintf(err, sizeof(err), "<%.*s> never closed", (int)stack_len[depth - 1],
                 stack[depth - 1]);
        return err;
    }
    return roots == 1 ? NULL : "not exactly one root element";
}

static void expect_refs_resolve(const struct xml *x, const char *what)
{
    for (int r = 0; r < x->nrefs; r++) {
        int found = 0;
        for (int i = 0; i < x->nids && !found; i++)
            found = !strcmp(x->refs[r], x->ids[i]);
        cr_expect(found, "%s: reference to #%s, which no element has", what, x->refs[r]);
    }
}

static void expect_unique_ids(const struct xml *x, const char *what)
{
    for (int i = 0; i < x->nids; i++)
        for (int j = i + 1; j < x->nids; j++)
            cr_expect(strcmp(x->ids[i], x->ids[j]) != 0, "%s: id '%s' twice", what, x->ids[i]);
}

static void draw_fixture(const char *dir)
{
    char out[4096];
    const char *args[] = {dir, "--scripts", SCRIPTS, NULL};
    cr_assert_eq(run_plot(args, NULL, out, sizeof(out)), 0, "overlap plot failed:\n%s", out);
    cr_expect(strstr(out, "charts and report.html written") != NULL, "%s", out);
}

/* ---- tests ---- */

Test(plot, xml_checker_rejects_broken_documents)
{
    static struct xml x;
    const char *bad[] = {"<a><b></a></b>", "<a>",  "<a x='1></a>", "<a/><b/>",
                         "<a><!-- </a>",   "</a>", "<a>&amp</a>"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&x, 0, sizeof(x));
        cr_expect_not_null(check_xml(bad[i], &x), "accepted %s", bad[i]);
    }
    memset(&x, 0, sizeof(x));
    cr_expect_null(check_xml("<?xml version='1.0'?><a x='>'><b/><!-- c --></a>", &x));
}

Test(plot, every_chart_drawn_in_both_formats)
{
    const char *dir = fixture_copy("all");
    draw_fixture(dir);
    for (size_t c = 0; c < NCHARTS; c++) {
        char path[700];
        snprintf(path, sizeof(path), "%s/%s.png", dir, charts[c]);
        expect_png(path);
        snprintf(path, sizeof(path), "%s/%s.svg", dir, charts[c]);
        static struct xml x;
        memset(&x, 0, sizeof(x));
        char *svg = slurp(path, NULL);
        const char *err = check_xml(svg, &x);
        cr_expect_null(err, "%s: %s", path, err);
        cr_expect_eq(x.svgs, 1, "%s: %d <svg> elements", path, x.svgs);
        cr_expect_gt(x.elements, 50, "%s: only %d elements: nothing drawn?", path, x.elements);
        expect_refs_resolve(&x, path);
        /* the legend or the panel titles name every config */
        const char *engines[] = {"pool:workers=1", "pool:workers=8", "async"};
        for (int e = 0; e < 3; e++)
            cr_expect(strstr(svg, engines[e]) != NULL, "%s does not name %s", path, engines[e]);
        free(svg);
    }
}

Test(plot, report_is_self_contained)
{
    const char *dir = fixture_copy("report");
    draw_fixture(dir);
    char path[700];
    snprintf(path, sizeof(path), "%s/report.html", dir);
    char *html = slurp(path, NULL);
    static struct xml x;
    memset(&x, 0, sizeof(x));
    const char *err = check_xml(strstr(html, "<html"), &x);
    cr_expect_null(err, "report.html: %s", err);
    cr_expect_eq(x.svgs, (int)NCHARTS, "report.html inlines %d charts", x.svgs);
    expect_refs_resolve(&x, "report.html");
    expect_unique_ids(&x, "report.html");
    /* nothing is loaded from anywhere: no src, no stylesheet link, no script */
    cr_expect_null(strstr(html, " src="));
    cr_expect_null(strstr(html, "<link"));
    cr_expect_null(strstr(html, "<script"));
    cr_expect_null(strstr(html, "missing)"), "a chart is missing from the report");
    /* the sentences come from the data: each config's peak, the comparison,
     * the timeline and the failed run */
    cr_expect(strstr(html, "<b>async</b> peaked at 903 req/s with 64 clients") != NULL);
    cr_expect(strstr(html, "The event loop's best throughput is 1.32") != NULL);
    cr_expect(strstr(html, "slowest request took 33.4 ms on <b>pool:workers=1</b>") != NULL);
    cr_expect(strstr(html, "1 of 22 runs failed") != NULL);
    cr_expect(strstr(html, "server exited: killed by signal 9") != NULL);
    cr_expect(strstr(html, "<th>cpu</th><td>a fixture, not a machine</td>") != NULL);
    free(html);
}

Test(plot, timeline_tables_show_the_lecture)
{
    const char *dir = fixture_copy("timeline");
    char vars[16384], err[512], path[700];
    cr_assert_eq(plot_prepare(dir, vars, sizeof(vars), err, sizeof(err)), 0, "%s", err);
    cr_expect(strstr(vars, "tl_requests=4;") != NULL, "%s", vars);
    cr_expect(strstr(vars, "engines='pool:workers=1 pool:workers=8 async'") != NULL, "%s", vars);
    /* the spectrum shows each config's run at or below 80 % of its ceiling */
    cr_expect(strstr(vars, "spectrum_runs='5 12 19'") != NULL, "%s", vars);
    snprintf(path, sizeof(path), "%s/timeline-requests.csv", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char line[256];
    double resp[4][5] = {{0}};
    int rows = 0;
    cr_assert_not_null(fgets(line, sizeof(line), f));
    while (fgets(line, sizeof(line), f)) {
        int e, k;
        double intended, sent, done, response;
        char engine[64];
        cr_assert_eq(sscanf(line, "%d,%63[^,],%d,%lf,%lf,%lf,%lf", &e, engine, &k, &intended, &sent,
                            &done, &response),
                     7, "%s", line);
        cr_assert(e >= 1 && e <= 3 && k >= 1 && k <= 4, "%s", line);
        resp[e][k] = response;
        rows++;
    }
    fclose(f);
    cr_expect_eq(rows, 12);
    /* one worker: each request waits behind the one before it */
    cr_expect(resp[1][2] > resp[1][1] * 1.5 && resp[1][3] > resp[1][2] * 1.3,
              "pool:workers=1 %.1f %.1f %.1f", resp[1][1], resp[1][2], resp[1][3]);
    /* the event loop: they overlap, each as fast as the first */
    for (int k = 2; k <= 4; k++)
        cr_expect(resp[3][k] < resp[3][1] * 1.1, "async #%d took %.1f", k, resp[3][k]);
    /* the segments of pool:workers=1's request 3 include a queue phase */
    snprintf(path, sizeof(path), "%s/timeline-segments.csv", dir);
    char *seg = slurp(path, NULL);
    cr_expect(strstr(seg, "\n1,pool:workers=1,3,") != NULL);
    cr_expect(strstr(seg, ",queue,1\n") != NULL, "%s", seg);
    free(seg);
}

Test(plot, a_broken_script_fails_with_gnuplots_message)
{
    const char *dir = fixture_copy("broken");
    char scripts[600], cmd[1400], out[4096];
    snprintf(scripts, sizeof(scripts), "%s/plots", tmp);
    snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s' && echo 'plot no_such_function(x)' >> '%s/cost.gp'",
             SCRIPTS, scripts, scripts);
    cr_assert_eq(system(cmd), 0);
    const char *args[] = {dir, "--scripts", scripts, NULL};
    cr_expect_eq(run_plot(args, NULL, out, sizeof(out)), 1);
    cr_expect(strstr(out, "cost.gp") != NULL, "the script is not named: %s", out);
    cr_expect(strstr(out, "undefined function: no_such_function") != NULL,
              "gnuplot's message is not quoted: %s", out);
    cr_expect(strstr(out, "report.html written") == NULL, "%s", out);
}

Test(plot, gnuplot_missing_is_a_clear_error)
{
    const char *dir = fixture_copy("nognuplot");
    char out[4096], empty[600];
    snprintf(empty, sizeof(empty), "%s/empty-path", tmp);
    cr_assert_eq(mkdir(empty, 0700), 0);
    const char *args[] = {dir, "--scripts", SCRIPTS, NULL};
    cr_expect_eq(run_plot(args, empty, out, sizeof(out)), 1);
    cr_expect(strstr(out, "timeline.gp") != NULL, "%s", out);
    cr_expect(strstr(out, "cannot run gnuplot") != NULL, "%s", out);
}

Test(plot, bad_folders_and_usage)
{
    char out[4096], dir[600];
    const char *none[] = {NULL};
    cr_expect_eq(run_plot(none, NULL, out, sizeof(out)), 2);
    cr_expect(strstr(out, "usage: overlap plot") != NULL, "%s", out);
    const char *two[] = {"a", "b", NULL};
    cr_expect_eq(run_plot(two, NULL, out, sizeof(out)), 2);
    const char *missing[] = {"/nonexistent/results", NULL};
    cr_expect_eq(run_plot(missing, NULL, out, sizeof(out)), 1);
    cr_expect(strstr(out, "No such file") != NULL, "%s", out);
    /* a folder without runs.csv, and one whose runs.csv is not ours */
    snprintf(dir, sizeof(dir), "%s/empty", tmp);
    cr_assert_eq(mkdir(dir, 0700), 0);
    const char *empty[] = {dir, NULL};
    cr_expect_eq(run_plot(empty, NULL, out, sizeof(out)), 1);
    cr_expect(strstr(out, "not a results folder") != NULL, "%s", out);
    char path[700];
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    spit(path, "\x01\x02garbage without commas\n\n,,,\n");
    cr_expect_eq(run_plot(empty, NULL, out, sizeof(out)), 1);
    cr_expect(strstr(out, "not a results folder") != NULL, "%s", out);
}

/* Malformed rows and phases draw what they can and never crash: a results
 * folder is a file anyone may have edited. */
Test(plot, malformed_rows_are_survived)
{
    const char *dir = fixture_copy("malformed");
    char path[700], vars[16384], err[512];
    snprintf(path, sizeof(path), "%s/timeline.csv", dir);
    spit(path, "run,engine,loop,clients,rate,request,path,intended_us,sent_us,first_byte_us,"
               "done_us,status,phases\n"
               "7,pool:workers=1,timeline,4,1,1,/home,100,110,20000,20010,200,"
               "queue:-5;cpu:nan;db:1e300;cpu:x;;::;cpu;dur=0.5, db;dur=10\n"
               "7,pool:workers=1,timeline,4,1,2,/home,200,210,0,0,0,\n"
               "7,async\n"
               "garbage line with no commas at all\n"
               "7,async,timeline,4,1,3,/home,300,310,400,100,200,cpu:0.5\n");
    snprintf(path, sizeof(path), "%s/meta.txt", dir);
    spit(path, "engines: async bad'name pool:workers=1\n");
    cr_assert_eq(plot_prepare(dir, vars, sizeof(vars), err, sizeof(err)), 0, "%s", err);
    cr_expect(strstr(vars, "bad'name") == NULL, "a quote reached gnuplot: %s", vars);
    cr_expect(strstr(vars, "engines='async pool:workers=1 pool:workers=8'") != NULL, "%s", vars);
    cr_expect_eq(plot_write_report(dir), 0);
    snprintf(path, sizeof(path), "%s/timeline-requests.csv", dir);
    char *req = slurp(path, NULL);
    cr_expect(strstr(req, "2,pool:workers=1,2,0.100,0.110,-1,-1\n") != NULL,
              "an unanswered request is kept as one: %s", req);
    free(req);
}
