/* `overlap workload check FILE...`: validates workload files and prints what
 * each request costs and the throughput bounds that follow (Little's law). */
#include <stdio.h>
#include <string.h>

#include "wl.h"

static const char *dist_name[] = {"fixed", "uniform", "exponential", "lognormal"};

static void print_dist(const struct wl_dist *d)
{
    printf("%s %.3f ms", dist_name[d->kind], d->a / 1e6);
    if (d->kind == WL_DIST_UNIFORM || d->kind == WL_DIST_LOGNORMAL)
        printf(" %.3f ms", d->b / 1e6);
    printf(" (mean %.3f ms)", wl_dist_mean(d) / 1e6);
}

static void print_steps(const struct wl_workload *wl, const struct wl_request *r)
{
    for (int i = 0; i < r->nsteps; i++) {
        const struct wl_step *s = &r->steps[i];
        int repeat = 1;
        if (s->kind == WL_STEP_QUERY)
            while (i + repeat < r->nsteps && r->steps[i + repeat].kind == WL_STEP_QUERY &&
                   r->steps[i + repeat].query == s->query)
                repeat++;
        printf("%s", i ? ", " : "");
        if (s->kind == WL_STEP_CPU)
            printf("cpu %.3f ms", s->cpu_ns / 1e6);
        else if (repeat > 1)
            printf("query %s x%d", wl->queries[s->query].name, repeat);
        else
            printf("query %s", wl->queries[s->query].name);
        i += repeat - 1;
    }
    printf("\n");
}

static void print_summary(const struct wl_workload *wl)
{
    printf("%s: %s%s%s\n", wl->path, wl->name, *wl->description ? " - " : "", wl->description);
    if (wl->init_path)
        printf("  database  init %s\n", wl->init_path);
    else
        printf("  database  %s\n", wl->dataset == WL_DATASET_TECHEMPOWER ? "techempower" : "none");
    for (int i = 0; i < wl->nqueries; i++) {
        const struct wl_query *q = &wl->queries[i];
        printf("  query     %-12s %d param%s, latency ", q->name, q->nparams,
               q->nparams == 1 ? "" : "s");
        print_dist(&q->latency);
        printf("\n");
    }
    for (int i = 0; i < wl->nrequests; i++) {
        const struct wl_request *r = &wl->requests[i];
        printf("  request   %-12s weight %g, %s, cpu %.3f ms, wait %.3f ms: ", r->name, r->weight,
               r->render == WL_RENDER_HTML ? "html" : "json", wl_request_cpu_ns(wl, i) / 1e6,
               wl_request_wait_ns(wl, i) / 1e6);
        print_steps(wl, r);
    }
    double c = wl_mean_cpu_ns(wl), w = wl_mean_wait_ns(wl);
    printf("  mean      cpu %.3f ms + wait %.3f ms = %.3f ms per request\n", c / 1e6, w / 1e6,
           (c + w) / 1e6);
    printf("  bounds    %.1f req/s per core (1/cpu), %.1f req/s per worker or client "
           "(1/(cpu+wait)),\n            %.0f workers or clients keep one core busy\n",
           c > 0 ? 1e9 / c : 0.0, c + w > 0 ? 1e9 / (c + w) : 0.0, c > 0 ? (c + w) / c : 0.0);
}

int wl_check_main(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "usage: overlap workload check FILE...\n"
                        "       overlap workload export FILE [--vary-cpu D] [--vary-wait D]\n");
        return 2;
    }
    int status = 0;
    for (int i = 2; i < argc; i++) {
        struct wl_workload *wl;
        char err[WL_ERR_LEN];
        if (argv[i][0] == '-') {
            fprintf(stderr,
                    "overlap workload check: unknown flag '%s'\n"
                    "usage: overlap workload check FILE...\n",
                    argv[i]);
            return 2;
        }
        if (wl_load(argv[i], &wl, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            status = 2;
            continue;
        }
        print_summary(wl);
        wl_free(wl);
    }
    return status;
}
