/* Whole sweeps as processes (see sweep.h). */
#define _GNU_SOURCE
#include "sweep.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void sweep_start(struct sweep_run *r, const char *tmp, const char *const *args)
{
    snprintf(r->tmp, sizeof(r->tmp), "%s", tmp);
    snprintf(r->out, sizeof(r->out), "%s/bench.out", tmp);
    snprintf(r->err, sizeof(r->err), "%s/bench.err", tmp);
    snprintf(r->results, sizeof(r->results), "%s/results", tmp);
    r->pid = fork();
    cr_assert_geq(r->pid, 0);
    if (r->pid == 0) {
        int o = open(r->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(r->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || chdir(tmp) < 0)
            _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        const char *argv[64] = {OVERLAP_BIN, "bench", "--out", r->results};
        int n = 4;
        for (int i = 0; args[i] && n < 63; i++)
            argv[n++] = args[i];
        execv(OVERLAP_BIN, (char *const *)argv);
        _exit(127);
    }
}

int sweep_wait(struct sweep_run *r, double timeout_s)
{
    int status;
    double until = now_s() + timeout_s;
    while (waitpid(r->pid, &status, WNOHANG) == 0) {
        if (now_s() > until) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, &status, 0);
            cr_assert_fail("overlap bench did not finish in %.0f s", timeout_s);
        }
        usleep(20000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int sweep_run(struct sweep_run *r, const char *tmp, const char *const *args, double timeout_s)
{
    sweep_start(r, tmp, args);
    return sweep_wait(r, timeout_s);
}

void sweep_results_dir(const struct sweep_run *r, char *dir, size_t len)
{
    char link[700], target[256];
    snprintf(link, sizeof(link), "%s/latest", r->results);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    cr_assert_gt(n, 0, "no results/latest");
    target[n] = '\0';
    cr_expect_null(strchr(target, '/'), "latest points outside results/: %s", target);
    snprintf(dir, len, "%s/%s", r->results, target);
}
