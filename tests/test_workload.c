/* The workload model: loading, validation errors, sampling and the burner. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wl.h"

static char tmpdir[] = "/tmp/overlap-wl-XXXXXX";

static void make_dir(void)
{
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(workload, .init = make_dir, .fini = remove_dir);

static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loads text that must fail; returns the error message. */
static const char *load_error(const char *text)
{
    static char err[WL_ERR_LEN];
    struct wl_workload *wl = NULL;
    const char *path = write_file("bad.ini", text);
    cr_assert_eq(wl_load(path, &wl, err, sizeof(err)), -1, "loaded: %s", text);
    cr_assert_null(wl);
    return err;
}

/* The error names the file and line, then says what is wrong. */
static void expect_error(const char *text, int line, const char *fragment)
{
    const char *err = load_error(text);
    char prefix[300];
    snprintf(prefix, sizeof(prefix), "%s/bad.ini:%d: ", tmpdir, line);
    cr_expect(strncmp(err, prefix, strlen(prefix)) == 0, "want prefix '%s', got '%s'", prefix, err);
    cr_expect(strstr(err, fragment) != NULL, "want '%s' in '%s'", fragment, err);
}

#define HEAD  "[database]\ndataset = techempower\n"
#define QUERY "[query.q]\nsql = SELECT ?\nparams = int 1 10\nlatency = fixed 1ms\n"

Test(workload, shipped_workloads_load)
{
    const char *names[] = {"seed", "db", "queries", "fortunes", "cpu-bound", "mixed", "updates"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[512], err[WL_ERR_LEN];
        struct wl_workload *wl;
        snprintf(path, sizeof(path), "%s/workloads/%s.ini", OVERLAP_SOURCE_DIR, names[i]);
        cr_assert_eq(wl_load(path, &wl, err, sizeof(err)), 0, "%s", err);
        cr_expect_str_eq(wl->name, names[i]);
        cr_expect_gt(wl->nrequests, 0);
        wl_free(wl);
    }
}

Test(workload, seed_is_the_lecture)
{
    char path[512], err[WL_ERR_LEN];
    struct wl_workload *wl;
    snprintf(path, sizeof(path), "%s/workloads/seed.ini", OVERLAP_SOURCE_DIR);
    cr_assert_eq(wl_load(path, &wl, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(wl->nrequests, 1);
    const struct wl_request *r = &wl->requests[0];
    cr_assert_eq(r->nsteps, 3);
    cr_expect_eq(r->steps[0].kind, WL_STEP_CPU);
    cr_expect_eq(r->steps[0].cpu_ns, 500000);
    cr_expect_eq(r->steps[1].kind, WL_STEP_QUERY);
    cr_expect_str_eq(wl->queries[r->steps[1].query].name, "world");
    cr_expect_eq(r->steps[2].cpu_ns, 500000);
    cr_expect_float_eq(wl_mean_cpu_ns(wl), 1e6, 1e-6);
    cr_expect_float_eq(wl_mean_wait_ns(wl), 10e6, 1e-6);
    /* 11 ms a request: 1 client gives 90.9/s, 64 workers are capped by 1 core at 1000/s */
    cr_expect_float_eq(wl_bound_rps(wl, 1, 0, 1), 1e3 / 11, 1e-9);
    cr_expect_float_eq(wl_bound_rps(wl, 256, 64, 1), 1000, 1e-9);
    cr_expect_float_eq(wl_bound_rps(wl, 256, 4, 2), 4e3 / 11, 1e-9);
    /* alone in the system, a request takes its steps one after the other:
     * 1 ms of CPU and the fixed 10 ms query, every time */
    struct wl_rng rng;
    wl_rng_seed(&rng, 7);
    for (int i = 0; i < 10; i++)
        cr_expect_float_eq(wl_request_idle_ns(wl, 0, &rng), 11e6, 1e-6);
    wl_free(wl);
}

/* An idle request's draws follow its query's distribution: the inventory's
 * stock lookup (50 us + lognormal median 2 ms, p99 12 ms + 50 us) has its
 * median and p99 where the distribution puts them. */
Test(workload, an_idle_request_draws_its_queries)
{
    char path[512], err[WL_ERR_LEN];
    struct wl_workload *wl;
    snprintf(path, sizeof(path), "%s/workloads/inventory.ini", OVERLAP_SOURCE_DIR);
    cr_assert_eq(wl_load(path, &wl, err, sizeof(err)), 0, "%s", err);
    int stock = wl_find_request(wl, "stock", 5);
    cr_assert_geq(stock, 0);
    enum { N = 20000 };
    static double x[N];
    struct wl_rng rng;
    wl_rng_seed(&rng, 1);
    int below_median = 0, below_p99 = 0;
    for (int i = 0; i < N; i++) {
        x[i] = wl_request_idle_ns(wl, stock, &rng);
        below_median += x[i] <= 2.1e6;
        below_p99 += x[i] <= 12.1e6;
        cr_assert_geq(x[i], 100e3, "never under its CPU");
    }
    /* binomial spreads: 0.5 +- 0.01, 0.99 +- 0.0021 at about 3 sigma */
    cr_expect_float_eq(below_median / (double)N, 0.5, 0.011, "%d", below_median);
    cr_expect_float_eq(below_p99 / (double)N, 0.99, 0.0025, "%d", below_p99);
    wl_free(wl);
}

Test(workload, grammar_features)
{
    const char *text = "; a comment\n[workload]\nname = custom\ndescription = first part\n"
                       "  and the rest\n" HEAD "[query.q]\nsql = SELECT id FROM World\n"
                       "  WHERE id = ? AND randomNumber > ? OR 'a?' = ?\n"
                       "params = int 1 10, const 5, const \"x, y\"\n"
                       "latency = lognormal 1ms 9ms ; trailing comment\n"
                       "[query.n]\nsql = SELECT ?, ?\nparams = null, const 2.5\n"
                       "latency = uniform 250ns 1.5s\n"
                       "[request.a]\nweight = 3\nsteps = cpu 10us, query q x3,\n  query n\n"
                       "[request.b]\nrender = html\nsteps = query n\n";
    char err[WL_ERR_LEN];
    struct wl_workload *wl;
    cr_assert_eq(wl_load(write_file("ok.ini", text), &wl, err, sizeof(err)), 0, "%s", err);
    cr_expect_str_eq(wl->name, "custom");
    cr_expect_str_eq(wl->description, "first part and the rest");
    cr_assert_eq(wl->nqueries, 2);
    const struct wl_query *q = &wl->queries[0];
    cr_expect_eq(q->nparams, 3);
    cr_expect_eq(q->params[0].kind, WL_PARAM_INT);
    cr_expect_eq(q->params[1].kind, WL_PARAM_INT_CONST);
    cr_expect_eq(q->params[1].lo, 5);
    cr_expect_eq(q->params[2].kind, WL_PARAM_TEXT_CONST);
    cr_expect_str_eq(q->params[2].text, "x, y");
    cr_expect_eq(q->latency.kind, WL_DIST_LOGNORMAL);
    cr_expect_eq(wl->queries[1].params[0].kind, WL_PARAM_NULL);
    cr_expect_eq(wl->queries[1].params[1].kind, WL_PARAM_REAL_CONST);
    cr_expect_float_eq(wl->queries[1].latency.a, 250, 1e-9);
    cr_expect_float_eq(wl->queries[1].latency.b, 1.5e9, 1e-9);
    cr_assert_eq(wl->nrequests, 2);
    cr_expect_eq(wl->requests[0].nsteps, 5);
    cr_expect_eq(wl->requests[0].steps[4].query, 1);
    cr_expect_eq(wl->requests[1].render, WL_RENDER_HTML);
    cr_expect_float_eq(wl->total_weight, 4, 1e-9);
    cr_expect_eq(wl_find_request(wl, "b", 1), 1);
    cr_expect_eq(wl_find_request(wl, "c", 1), -1);
    cr_expect_eq(wl_find_query(wl, "n", 1), 1);
    wl_free(wl);
}

Test(workload, init_script_is_relative_to_the_file)
{
    char err[WL_ERR_LEN];
    struct wl_workload *wl;
    write_file("schema.sql", "CREATE TABLE t(x);\n");
    const char *path = write_file("init.ini", "[database]\ninit = schema.sql\n"
                                              "[request.r]\nsteps = cpu 1us\n");
    cr_assert_eq(wl_load(path, &wl, err, sizeof(err)), 0, "%s", err);
    char want[300];
    snprintf(want, sizeof(want), "%s/schema.sql", tmpdir);
    cr_expect_str_eq(wl->init_path, want);
    wl_free(wl);
}

Test(workload, missing_file)
{
    char err[WL_ERR_LEN];
    struct wl_workload *wl = NULL;
    cr_assert_eq(wl_load("/nonexistent/w.ini", &wl, err, sizeof(err)), -1);
    cr_expect(strstr(err, "/nonexistent/w.ini: cannot read workload (No such file") == err, "%s",
              err);
}

Test(workload, errors_name_file_and_line)
{
    expect_error(HEAD "[query.q]\nsql = SELECT 1\nlatency = fixed 1ms\n[bogus]\nx = 1\n", 6,
                 "unknown section [bogus]");
    expect_error(HEAD QUERY "color = red\n", 7, "unknown key 'color' in [query.q]");
    expect_error(HEAD "[request.r]\nsteps = cpu 1ms, query nope\n", 4,
                 "query 'nope' is not defined");
    expect_error(HEAD "[request.r]\nsteps = cpu 10 ms\n", 4, "bad step");
    expect_error(HEAD "[request.r]\nsteps = cpu 10xs\n", 4, "bad duration '10xs'");
    expect_error(HEAD "[query.q]\nsql = SELECT 1\nlatency = lognormal 10ms 5ms\n", 5,
                 "P99 5ms is below MEDIAN 10ms");
    expect_error(HEAD "[request.r]\nweight = 0\nsteps = cpu 1ms\n", 4, "bad weight '0'");
    expect_error(HEAD "[request.r]\nweight = -2\nsteps = cpu 1ms\n", 4, "bad weight '-2'");
    expect_error(HEAD QUERY, 6, "no request types");
    expect_error(HEAD QUERY "[query.q]\nsql = SELECT 2\n", 7,
                 "duplicate query 'q' (first defined at line 3)");
    expect_error(HEAD "[request.r]\nsteps = cpu 1ms\n[request.r]\nsteps = cpu 1ms\n", 5,
                 "duplicate request 'r'");
    expect_error(HEAD "[request.r]\nsteps = cpu 1ms\nsteps = cpu 2ms\n", 5,
                 "duplicate key 'steps'");
    expect_error(HEAD "[query.q]\nsql = SELECT ?\nlatency = fixed 1ms\n[request.r]\n"
                      "steps = query q\n",
                 3, "sql has 1 '?' placeholder but params gives 0");
    expect_error(HEAD "[query.q]\nlatency = fixed 1ms\n[request.r]\nsteps = query q\n", 3,
                 "query q has no sql");
    expect_error(HEAD "[query.q]\nsql = SELECT 1\n[request.r]\nsteps = query q\n", 3,
                 "query q has no latency");
    expect_error(HEAD "[query.q]\nsql = SELECT ?\nparams = int 9 1\nlatency = fixed 1ms\n", 5,
                 "int range 9 1 is empty");
    expect_error(HEAD "[query.q]\nsql = SELECT ?\nparams = float 1\nlatency = fixed 1ms\n", 5,
                 "bad parameter 'float 1'");
    expect_error(HEAD "[query.q]\nsql = SELECT 1\nlatency = gaussian 1ms\n", 5,
                 "unknown distribution 'gaussian'");
    expect_error(HEAD "[query.q]\nsql = SELECT 1\nlatency = uniform 5ms 1ms\n", 5,
                 "MAX 1ms is below MIN 5ms");
    expect_error(HEAD "[query.q]\nsql = SELECT 1\nlatency = fixed\n", 5, "takes 1 duration");
    expect_error(HEAD QUERY "[request.r]\nsteps = query q x0\n", 8, "bad repeat 'x0'");
    expect_error(HEAD QUERY "[request.r]\nsteps = query q x101\n", 8, "bad repeat 'x101'");
    expect_error(HEAD "[request.r]\nsteps = sleep 1ms\n", 4, "bad step 'sleep'");
    expect_error(HEAD "[request.r]\nweight = 1\n", 3, "request r has no steps");
    expect_error(HEAD "[request.r]\nrender = xml\nsteps = cpu 1ms\n", 4, "unknown render 'xml'");
    expect_error(HEAD "[request.plaintext]\nsteps = cpu 1ms\n", 3, "reserved");
    expect_error(HEAD "[request.a/b]\nsteps = cpu 1ms\n", 3, "bad name 'a/b'");
    expect_error("[request.r]\nsteps = cpu 1ms\n", 1, "no [database] section");
    expect_error("[database]\n[request.r]\nsteps = cpu 1ms\n", 1, "[database] names no data");
    expect_error("[database]\ndataset = tpcc\n[request.r]\nsteps = cpu 1ms\n", 2,
                 "unknown dataset 'tpcc'");
    expect_error("[database]\ninit = missing.sql\n[request.r]\nsteps = cpu 1ms\n", 2,
                 "cannot read init script");
    expect_error(HEAD "this line has no equals sign\n[request.r]\nsteps = cpu 1ms\n", 3,
                 "cannot parse this line");
    expect_error("name = early\n" HEAD, 1, "before any section");
    expect_error(HEAD "[request.r\nsteps = cpu 1ms\n", 3, "unterminated section header");
    expect_error(HEAD "[request.r]\nweight = 1\n  2\nsteps = cpu 1ms\n", 5,
                 "indented line continues 'weight'");
    expect_error(HEAD "[workload]\nname = a\n[workload]\n", 5, "duplicate [workload]");
}

Test(workload, long_lines_are_refused_not_truncated)
{
    char text[1024];
    snprintf(text, sizeof(text), HEAD "[request.r]\nsteps = cpu 1ms%*s\n", 300, ", cpu 1ms");
    expect_error(text, 4, "line longer than");
}

Test(workload, many_steps_are_capped)
{
    expect_error(HEAD QUERY "[request.r]\nsteps = query q x100, query q x100, query q x100\n", 8,
                 "more than 256 steps");
}

Test(workload, binary_garbage_is_an_error)
{
    const char *err = load_error("\x01\x02\xff\xfe garbage\n\x7f\n");
    cr_expect(strstr(err, "bad.ini:1: ") != NULL, "%s", err);
}

/* ---- sampling ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

#define SAMPLES 100000

static void sample_sorted(const char *spec, uint64_t *v, double *mean)
{
    struct wl_dist d;
    struct wl_rng rng;
    char err[WL_ERR_LEN];
    cr_assert_eq(wl_dist_parse(spec, &d, err, sizeof(err)), 0, "%s", err);
    wl_rng_seed(&rng, 42);
    double sum = 0;
    for (int i = 0; i < SAMPLES; i++)
        sum += (double)(v[i] = wl_dist_sample(&d, &rng));
    qsort(v, SAMPLES, sizeof(*v), cmp_u64);
    *mean = sum / SAMPLES;
    cr_expect_float_eq(*mean, wl_dist_mean(&d), wl_dist_mean(&d) * 0.02,
                       "%s: sample mean %f vs configured %f", spec, *mean, wl_dist_mean(&d));
}

/* Tolerances: 100k samples give a standard error of the mean under 0.5 % for
 * these shapes; 2 % on means and 3 % on quantiles cannot fail by chance. */
Test(distributions, hit_their_parameters)
{
    uint64_t *v = malloc(SAMPLES * sizeof(*v));
    double mean;
    sample_sorted("fixed 10ms", v, &mean);
    cr_expect_eq(v[0], 10000000);
    cr_expect_eq(v[SAMPLES - 1], 10000000);

    sample_sorted("uniform 1ms 3ms", v, &mean);
    cr_expect_geq(v[0], 1000000);
    cr_expect_leq(v[SAMPLES - 1], 3000000);
    cr_expect_float_eq((double)v[SAMPLES / 2], 2e6, 2e6 * 0.03);

    sample_sorted("exponential 2ms", v, &mean);
    cr_expect_float_eq((double)v[SAMPLES / 2], 2e6 * log(2), 2e6 * log(2) * 0.03);

    sample_sorted("lognormal 1ms 20ms", v, &mean);
    cr_expect_float_eq((double)v[SAMPLES / 2], 1e6, 1e6 * 0.03);
    cr_expect_float_eq((double)v[SAMPLES * 99 / 100], 20e6, 20e6 * 0.03);
    free(v);
}

Test(distributions, durations)
{
    uint64_t ns;
    cr_expect(wl_duration_parse("250ns", &ns) == 0 && ns == 250);
    cr_expect(wl_duration_parse("500us", &ns) == 0 && ns == 500000);
    cr_expect(wl_duration_parse("10ms", &ns) == 0 && ns == 10000000);
    cr_expect(wl_duration_parse("1.5s", &ns) == 0 && ns == 1500000000);
    cr_expect(wl_duration_parse("0ms", &ns) == 0 && ns == 0);
    const char *bad[] = {"10", "ms", "-1ms", "1.5", "1e400s", "nanms", "10 ms", "2h", "", "5000s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(wl_duration_parse(bad[i], &ns), -1, "accepted '%s'", bad[i]);
}

Test(rng, below_is_uniform_and_seeded)
{
    struct wl_rng a, b;
    int counts[10] = {0};
    wl_rng_seed(&a, 7);
    wl_rng_seed(&b, 7);
    for (int i = 0; i < SAMPLES; i++) {
        uint64_t x = wl_rng_below(&a, 10);
        cr_assert_lt(x, 10);
        cr_assert_eq(x, wl_rng_below(&b, 10));
        counts[x]++;
    }
    for (int i = 0; i < 10; i++)
        cr_expect_float_eq(counts[i], SAMPLES / 10.0, SAMPLES / 10.0 * 0.05);
    wl_rng_seed(&b, 8);
    cr_expect_neq(wl_rng_next(&a), wl_rng_next(&b));
}

Test(rng, requests_are_picked_by_weight)
{
    char path[512], err[WL_ERR_LEN];
    struct wl_workload *wl;
    struct wl_rng rng;
    int counts[8] = {0};
    snprintf(path, sizeof(path), "%s/workloads/mixed.ini", OVERLAP_SOURCE_DIR);
    cr_assert_eq(wl_load(path, &wl, err, sizeof(err)), 0, "%s", err);
    wl_rng_seed(&rng, 1);
    for (int i = 0; i < SAMPLES; i++)
        counts[wl_pick_request(wl, &rng)]++;
    for (int i = 0; i < wl->nrequests; i++) {
        double want = SAMPLES * wl->requests[i].weight / wl->total_weight;
        cr_expect_float_eq(counts[i], want, want * 0.05 + 50, "%s: %d vs %f", wl->requests[i].name,
                           counts[i], want);
    }
    wl_free(wl);
}

/* ---- the burner ---- */

static double thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The issue's ±25 % for a 1 ms burn, on CPU time, which preemption does not
 * inflate; the median of several burns keeps one disturbed run from deciding. */
Test(burn, one_millisecond_costs_one_millisecond_of_cpu)
{
    double took[9];
    wl_burn_calibrate();
    cr_assert_gt(wl_burn_iters_per_us(), 0);
    for (int i = 0; i < 9; i++) {
        double start = thread_cpu_ns();
        wl_burn(1000000);
        took[i] = thread_cpu_ns() - start;
    }
    for (int i = 1; i < 9; i++)
        for (int j = i; j > 0 && took[j] < took[j - 1]; j--) {
            double t = took[j];
            took[j] = took[j - 1];
            took[j - 1] = t;
        }
    cr_expect(took[4] > 0.75e6 && took[4] < 1.25e6, "median 1 ms burn took %.0f ns", took[4]);
}

/* A sweep's rate, set before the first burn, is the burner's; a bad one,
 * or one set once the burner has calibrated, is refused and changes nothing. */
Test(burn, a_rate_set_before_calibration_is_the_burners)
{
    const double bad[] = {0, -1, 0.5, 2e6, NAN, INFINITY};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(wl_burn_set_rate(bad[i]), -1, "rate %g", bad[i]);
    cr_assert_eq(wl_burn_set_rate(1234.5), 0);
    cr_expect_float_eq(wl_burn_iters_per_us(), 1234.5, 1e-9);
    cr_expect_eq(wl_burn_set_rate(2000), -1, "too late: the burner has its rate");
    cr_expect_float_eq(wl_burn_iters_per_us(), 1234.5, 1e-9);
}

/* The rate, not a clock, sets a step's work: at a thousandth of this
 * machine's rate, 1 ms of burning is about a microsecond of CPU (a busy
 * machine would have to be 250 times slower to reach the bound). */
Test(burn, the_rate_sets_the_work)
{
    double own = wl_burn_measure(7);
    cr_assert(own > 0 && isfinite(own), "measured %g iterations per us", own);
    cr_assert_eq(wl_burn_set_rate(own / 1000 > WL_BURN_MIN_RATE ? own / 1000 : WL_BURN_MIN_RATE),
                 0);
    double took[9];
    for (int i = 0; i < 9; i++) {
        double start = thread_cpu_ns();
        wl_burn(1000000);
        took[i] = thread_cpu_ns() - start;
    }
    for (int i = 0; i < 9; i++)
        cr_expect_lt(took[i], 250e3, "burn %d of 1 ms at a thousandth of the rate took %.0f ns", i,
                     took[i]);
}

/* ---- the command ---- */

static int run(const char *args, char *out, size_t outlen)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cd %s && %s %s 2>&1", OVERLAP_SOURCE_DIR, OVERLAP_BIN, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(command, check_prints_summaries)
{
    static char out[65536];
    cr_expect_eq(run("workload check workloads/*.ini", out, sizeof(out)), 0, "%s", out);
    cr_expect(strstr(out, "workloads/seed.ini: seed") != NULL, "%s", out);
    cr_expect(strstr(out, "1000.0 req/s per core") != NULL, "%s", out);
    cr_expect(strstr(out, "90.9 req/s per worker") != NULL, "%s", out);
}

Test(command, check_reports_one_error_and_exits_2, .init = make_dir, .fini = remove_dir)
{
    char out[4096], args[512];
    write_file("bad.ini", HEAD "[request.r]\nsteps = cpu 1ms, query nope\n");
    snprintf(args, sizeof(args), "workload check %s/bad.ini", tmpdir);
    cr_expect_eq(run(args, out, sizeof(out)), 2);
    cr_expect(strstr(out, "bad.ini:4: request r: query 'nope' is not defined") != NULL, "%s", out);
    cr_expect_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
}

Test(command, usage_errors_exit_2)
{
    char out[4096];
    cr_expect_eq(run("", out, sizeof(out)), 2);
    cr_expect_eq(run("frobnicate", out, sizeof(out)), 2);
    cr_expect(strstr(out, "unknown command 'frobnicate'") != NULL, "%s", out);
    cr_expect(strstr(out, "usage: overlap COMMAND") != NULL, "%s", out);
    cr_expect_eq(run("workload", out, sizeof(out)), 2);
    cr_expect_eq(run("workload check --nope x.ini", out, sizeof(out)), 2);
    cr_expect_eq(run("help", out, sizeof(out)), 0);
    cr_expect(strstr(out, "workload check|export FILE") != NULL, "%s", out);
    cr_expect_eq(run("workload export", out, sizeof(out)), 2);
    cr_expect(strstr(out, "a workload FILE is required") != NULL, "%s", out);
    cr_expect_eq(run("workload export workloads/seed.ini --vary-cpu", out, sizeof(out)), 2);
    cr_expect(strstr(out, "--vary-cpu needs a value") != NULL, "%s", out);
    cr_expect_eq(run("workload export workloads/seed.ini --vary-cpu 0", out, sizeof(out)), 2);
    cr_expect_eq(run("workload export a.ini b.ini", out, sizeof(out)), 2);
    cr_expect(strstr(out, "unexpected argument 'b.ini'") != NULL, "%s", out);
    cr_expect_eq(run("workload export workloads/none.ini", out, sizeof(out)), 2);
    cr_expect(strstr(out, "workloads/none.ini: cannot read workload") != NULL, "%s", out);
}

/* The JSON external engines read (engines/README.md, section 3): every
 * kind of parameter and step, text escaped, and a map cell's scaling. */
Test(command, export_writes_the_contracts_json, .init = make_dir, .fini = remove_dir)
{
    char out[8192], args[512];
    write_file("all.ini", "[workload]\nname = all\n" HEAD "[query.q]\nsql = SELECT ?, ?, ?, ?, ?\n"
                          "params = int 1 9, const -42, const 1.5, const \"a\tb\", null\n"
                          "latency = fixed 2ms\n[query.none]\nsql = SELECT 1\nlatency = fixed 0ms\n"
                          "[request.r]\nweight = 3\nsteps = cpu 250us, query q x2, cpu 1ms\n"
                          "[request.page]\nrender = html\nsteps = query none\n");
    snprintf(args, sizeof(args), "workload export %s/all.ini", tmpdir);
    cr_assert_eq(run(args, out, sizeof(out)), 0, "%s", out);
    cr_expect_str_eq(out,
                     "{\"workload\":\"all\",\n \"queries\":[\n"
                     "  {\"name\":\"q\",\"sql\":\"SELECT $1::int8, $2::int8, $3::float8, "
                     "$4::text, $5\",\"params\":[{\"kind\":\"int\",\"lo\":1,\"hi\":9},"
                     "{\"kind\":\"int\",\"value\":-42},{\"kind\":\"real\",\"value\":1.5},"
                     "{\"kind\":\"text\",\"value\":\"a\\tb\"},{\"kind\":\"null\"}],"
                     "\"latency_ms\":[2]},\n"
                     "  {\"name\":\"none\",\"sql\":\"SELECT 1\",\"params\":[],"
                     "\"latency_ms\":[0]}],\n \"requests\":[\n"
                     "  {\"name\":\"r\",\"path\":\"/r\",\"render\":\"json\",\"weight\":3,\"steps\":"
                     "[{\"cpu_ns\":250000},{\"query\":0},{\"query\":0},{\"cpu_ns\":1000000}]},\n"
                     "  {\"name\":\"page\",\"path\":\"/page\",\"render\":\"html\",\"weight\":1,"
                     "\"steps\":[{\"query\":1}]}]}\n");
    /* a map cell: 2.5 ms of CPU a request over the mix (r is 3 in 4 of
     * them, at 1.25 ms), the steps keeping their ratio */
    snprintf(args, sizeof(args), "workload export %s/all.ini --vary-cpu 2500us", tmpdir);
    cr_assert_eq(run(args, out, sizeof(out)), 0, "%s", out);
    cr_expect(strstr(out, "[{\"cpu_ns\":666667},{\"query\":0},{\"query\":0},"
                          "{\"cpu_ns\":2666667}]") != NULL,
              "%s", out);
}

/* A distribution's latency table: 1,000 waits, the quantiles at the
 * middles of equal slices, so their median is the distribution's. */
Test(command, export_gives_a_distribution_as_equally_likely_waits, .init = make_dir,
     .fini = remove_dir)
{
    static char out[65536];
    char args[512];
    write_file("d.ini", "[workload]\nname = d\n" HEAD "[query.q]\nsql = SELECT 1\n"
                        "latency = lognormal 2ms 20ms\n[request.r]\nsteps = query q\n");
    snprintf(args, sizeof(args), "workload export %s/d.ini", tmpdir);
    cr_assert_eq(run(args, out, sizeof(out)), 0, "%s", out);
    const char *p = strstr(out, "\"latency_ms\":[");
    cr_assert_not_null(p, "%s", out);
    p += strlen("\"latency_ms\":[");
    double w[WL_EXPORT_WAITS + 1];
    int n = 0;
    for (char *end; n <= WL_EXPORT_WAITS && *p != ']'; p = end + (*end == ',')) {
        w[n++] = strtod(p, &end);
        cr_assert(end != p, "not a number at %.20s", p);
    }
    cr_assert_eq(n, WL_EXPORT_WAITS);
    for (int i = 1; i < n; i++)
        cr_expect_gt(w[i], w[i - 1], "wait %d", i);
    cr_expect_float_eq((w[499] + w[500]) / 2, 2.0, 1e-3, "the median %g ms", (w[499] + w[500]) / 2);
    cr_expect_float_eq((w[989] + w[990]) / 2, 20.0, 0.05, "the 99th percentile %g ms",
                       (w[989] + w[990]) / 2);
}

Test(distributions, quantiles_invert_each_kind)
{
    struct wl_dist fixed = {WL_DIST_FIXED, 5e6, 0}, uni = {WL_DIST_UNIFORM, 1e6, 3e6},
                   ex = {WL_DIST_EXPONENTIAL, 2e6, 0}, ln = {WL_DIST_LOGNORMAL, 1e6, 10e6};
    cr_expect_eq(wl_dist_quantile(&fixed, 0.3), 5e6);
    cr_expect_float_eq(wl_dist_quantile(&uni, 0.25), 1.5e6, 1e-6);
    cr_expect_float_eq(wl_dist_quantile(&ex, 0.5), 2e6 * M_LN2, 1e-3);
    cr_expect_float_eq(wl_dist_quantile(&ln, 0.5), 1e6, 1e-3);
    cr_expect_float_eq(wl_dist_quantile(&ln, 0.99), 10e6, 1e-2);
    cr_expect_float_eq(wl_dist_quantile(&ln, 0.01), 0.1e6, 1e-3); /* the lower tail mirrors it */
    cr_expect(isnan(wl_dist_quantile(&ln, 0)) && isnan(wl_dist_quantile(&ln, 1)));
}

Test(sql, placeholders_outside_quotes_and_comments_become_numbered)
{
    char out[256];
    cr_expect_eq(wl_sql_placeholders("SELECT id FROM World WHERE id = ?", NULL, out, sizeof(out)),
                 1);
    cr_expect_str_eq(out, "SELECT id FROM World WHERE id = $1");
    cr_expect_eq(wl_sql_placeholders("SELECT ?, '?', 'it''s ?', \"a?\" -- ?\n/* ? */ ?", NULL, out,
                                     sizeof(out)),
                 2);
    cr_expect_str_eq(out, "SELECT $1, '?', 'it''s ?', \"a?\" -- ?\n/* ? */ $2");
    cr_expect_eq(wl_sql_placeholders("SELECT '?", NULL, out, sizeof(out)), 0, "an open quote");
    cr_expect_str_eq(out, "SELECT '?");
    cr_expect_eq(wl_sql_placeholders("SELECT ?, ?", NULL, out, 10), -ENOSPC);
    cr_expect_eq(wl_sql_placeholders("SELECT ?", NULL, out, 10), 1);
    cr_expect_eq(wl_sql_placeholders("SELECT ?", NULL, out, 9), -ENOSPC);
    /* typed: each cast to the type it is sent as; a null left to the server */
    struct wl_query q = {.nparams = 4,
                         .params = {{.kind = WL_PARAM_INT},
                                    {.kind = WL_PARAM_REAL_CONST},
                                    {.kind = WL_PARAM_TEXT_CONST},
                                    {.kind = WL_PARAM_NULL}}};
    cr_expect_eq(wl_sql_placeholders("SELECT ?, ?, '?', ?, ?", &q, out, sizeof(out)), 4);
    cr_expect_str_eq(out, "SELECT $1::int8, $2::float8, '?', $3::text, $4");
    cr_expect_eq(wl_sql_placeholders("SELECT ?", &q, out, 15), -ENOSPC);
    cr_expect_eq(wl_sql_placeholders("SELECT ?", &q, out, 16), 1);
    cr_expect_str_eq(out, "SELECT $1::int8");
}

/* The example in workloads/README.md is meant to be copied: it must load. */
Test(workload, readme_example_loads)
{
    char path[512], line[512], err[WL_ERR_LEN];
    snprintf(path, sizeof(path), "%s/workloads/README.md", OVERLAP_SOURCE_DIR);
    FILE *in = fopen(path, "r");
    cr_assert_not_null(in);
    snprintf(path, sizeof(path), "%s/example.ini", tmpdir);
    FILE *out = fopen(path, "w");
    cr_assert_not_null(out);
    int inside = 0, lines = 0;
    while (fgets(line, sizeof(line), in)) {
        if (!strncmp(line, "```", 3)) {
            if (inside)
                break;
            inside = !strncmp(line, "```ini", 6);
            continue;
        }
        if (inside && fputs(line, out) >= 0)
            lines++;
    }
    fclose(in);
    fclose(out);
    cr_assert_gt(lines, 10);
    struct wl_workload *wl;
    cr_assert_eq(wl_load(path, &wl, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(wl->nrequests, 2);
    wl_free(wl);
}

/* ---- moving a workload to a cell of the crossover map ---- */

static struct wl_workload *load_text(const char *name, const char *text)
{
    char err[WL_ERR_LEN];
    struct wl_workload *wl = NULL;
    cr_assert_eq(wl_load(write_file(name, text), &wl, err, sizeof(err)), 0, "%s", err);
    return wl;
}

static const char two_types[] = "[workload]\nname = two\n[database]\ndataset = techempower\n"
                                "[query.a]\nsql = SELECT 1\nlatency = fixed 4ms\n"
                                "[query.b]\nsql = SELECT 2\nlatency = lognormal 2ms 20ms\n"
                                "[query.c]\nsql = SELECT 3\nlatency = exponential 3ms\n"
                                "[query.d]\nsql = SELECT 4\nlatency = uniform 1ms 3ms\n"
                                "[query.z]\nsql = SELECT 5\nlatency = fixed 0ms\n"
                                "[request.small]\nweight = 3\n"
                                "steps = cpu 100us, query a, cpu 300us\n"
                                "[request.big]\nweight = 1\nsteps = cpu 2ms, query b\n";

Test(workload, vary_cpu_keeps_the_steps_proportions_and_sets_the_mean)
{
    struct wl_workload *wl = load_text("two.ini", two_types);
    char err[WL_ERR_LEN] = "";
    /* mean now (3 x 400us + 1 x 2ms) / 4 = 800us: everything doubles for 1.6ms */
    cr_assert_float_eq(wl_mean_cpu_ns(wl), 800e3, 1e-6);
    cr_assert_eq(wl_vary(wl, 1600000, 0, err, sizeof(err)), 0, "%s", err);
    cr_expect_float_eq(wl_mean_cpu_ns(wl), 1.6e6, 1.0);
    cr_expect_eq(wl->requests[0].steps[0].cpu_ns, 200000);
    cr_expect_eq(wl->requests[0].steps[2].cpu_ns, 600000);
    cr_expect_eq(wl->requests[1].steps[0].cpu_ns, 4000000);
    cr_expect_float_eq(wl->queries[0].latency.a, 4e6, 1e-6, "the waits are not touched");
    cr_expect_float_eq(wl->total_weight, 4, 1e-12, "nor the mix");
    wl_free(wl);
}

Test(workload, vary_wait_sets_each_querys_median_and_keeps_its_shape)
{
    struct wl_workload *wl = load_text("two.ini", two_types);
    char err[WL_ERR_LEN] = "";
    cr_assert_eq(wl_vary(wl, 0, 10000000, err, sizeof(err)), 0, "%s", err);
    for (int q = 0; q < wl->nqueries; q++)
        cr_expect_float_eq(wl_dist_median(&wl->queries[q].latency), 10e6, 1.0, "query %s",
                           wl->queries[q].name);
    const struct wl_dist *b = &wl->queries[1].latency, *c = &wl->queries[2].latency,
                         *d = &wl->queries[3].latency, *z = &wl->queries[4].latency;
    cr_expect_eq(b->kind, WL_DIST_LOGNORMAL);
    cr_expect_float_eq(b->b / b->a, 10, 1e-9, "the lognormal's p99 stays 10x its median");
    cr_expect_eq(c->kind, WL_DIST_EXPONENTIAL);
    cr_expect_float_eq(c->a, 10e6 / M_LN2, 1.0, "an exponential's mean is its median / ln 2");
    cr_expect_eq(d->kind, WL_DIST_UNIFORM);
    cr_expect_float_eq(d->a / d->b, 1.0 / 3, 1e-9, "the uniform keeps its ends' ratio");
    cr_expect(z->kind == WL_DIST_FIXED && z->a == 10e6, "a query of latency 0 becomes fixed");
    cr_expect_eq(wl->requests[0].steps[0].cpu_ns, 100000, "the CPU is not touched");
    wl_free(wl);
}

Test(workload, vary_refuses_an_axis_with_nothing_to_scale)
{
    struct wl_workload *wl = load_text(
        "nocpu.ini",
        "[workload]\nname = q\n[database]\ndataset = techempower\n[query.a]\nsql = SELECT 1\n"
        "latency = fixed 1ms\n[request.r]\nsteps = query a\n");
    char err[WL_ERR_LEN] = "";
    cr_expect_eq(wl_vary(wl, 1000000, 0, err, sizeof(err)), -1);
    cr_expect(strstr(err, "no cpu step") != NULL, "%s", err);
    cr_expect_eq(wl_vary(wl, 0, 5000000, err, sizeof(err)), 0, "its wait still moves: %s", err);
    wl_free(wl);
    wl = load_text(
        "noquery.ini",
        "[workload]\nname = c\n[database]\ndataset = techempower\n[request.r]\nsteps = cpu 1ms\n");
    cr_expect_eq(wl_vary(wl, 0, 5000000, err, sizeof(err)), -1);
    cr_expect(strstr(err, "no query") != NULL, "%s", err);
    cr_expect_eq(wl_vary(wl, 0, 0, err, sizeof(err)), 0, "0 on both axes changes nothing");
    cr_expect_eq(wl->requests[0].steps[0].cpu_ns, 1000000);
    wl_free(wl);
}
