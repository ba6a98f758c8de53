/* Results are never lost: `overlap bench --quick` (with short runs) is killed
 * with SIGKILL at random points, itself or the server or the database of the
 * run under way, several times. Afterwards the results folder holds only
 * well-formed CSV (no half-written row), every run that finished, and no
 * process of the sweep is left. The test process is a child subreaper, so the
 * sweep's orphans become its children and a stray one cannot hide. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "csv.h"
#include "proc.h"

#define QUICK_RUNS                                                                                 \
    10 /* harness/suites/quick.ini once: 2 configs x (2 closed + 2 open) + 2 timelines */
#define REAP_MS  20000 /* children stop on SIGTERM (their parent's death) within this */
#define REACH_MS 10000 /* a signalled process reaches its state (stopped, dead) within this */
#define RUN_MS   60000 /* a run under way to kill is found within this past the delay */

static char dir[256];
static unsigned seed;

static uint64_t now_ms(void)
{
    return proc_now_ns() / 1000000u;
}

/* A process's parent, and its state letter into state (when not NULL) from
 * /proc/PID/stat; 0 when it is gone. */
static pid_t process_state(pid_t pid, char *state)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
    fclose(f);
    int ppid = 0;
    char c;
    if (!p || sscanf(p + 2, "%c %d", &c, &ppid) != 2)
        return 0;
    if (state)
        *state = c;
    return (pid_t)ppid;
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    cr_assert_eq(child_tmpdir(dir, sizeof(dir)), 0);
    const char *s = getenv("OVERLAP_CRASH_SEED");
    seed = s && *s ? (unsigned)atoi(s) : (unsigned)time(NULL) ^ (unsigned)getpid();
    fprintf(stderr, "crash: seed %u (OVERLAP_CRASH_SEED to repeat)\n", seed);
}

static void teardown(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    child_tmpdir_remove(dir);
}

TestSuite(crash, .init = setup, .fini = teardown, .timeout = 240);

/* A sweep under way: its pid and the read end of its stdout. */
struct sweep {
    pid_t pid;
    int out;
    char text[16384];
    size_t len;
    char folder[300];
};

/* Starts the quick sweep with one repeat and no charts (nothing here reads
 * them, and each sweep runs to its end in two of the tests); engines (two
 * configs, as quick.ini has) replaces its configs, or NULL keeps them. */
static void sweep_start(struct sweep *s, const char *out_dir, const char *engines)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    memset(s, 0, sizeof(*s));
    s->pid = fork();
    cr_assert_geq(s->pid, 0);
    if (s->pid == 0) {
        const char *bin = getenv("OVERLAP_BIN");
        bin = bin && *bin ? bin : OVERLAP_BIN;
        dup2(p[1], 1);
        dup2(p[1], 2); /* the sweep's progress lines ("[k/N] ...") go to stderr */
        if (chdir(OVERLAP_SOURCE_DIR) < 0)
            _exit(127);
        char *argv[] = {(char *)bin,  "bench",     "--quick",   "--out",         (char *)out_dir,
                        "--duration", "300ms",     "--warmup",  "100ms",         "--repeats",
                        "1",          "--no-plot", "--engines", (char *)engines, NULL};
        if (!engines)
            argv[12] = NULL; /* the suite's own */
        execv(bin, argv);
        _exit(127);
    }
    close(p[1]);
    s->out = p[0];
    fcntl(s->out, F_SETFL, O_NONBLOCK);
}

/* Collects what the sweep printed so far. */
static void sweep_read(struct sweep *s)
{
    ssize_t n;
    while (s->len < sizeof(s->text) - 1 &&
           (n = read(s->out, s->text + s->len, sizeof(s->text) - 1 - s->len)) > 0)
        s->len += (size_t)n;
    s->text[s->len] = '\0';
}

/* Waits for the sweep to end: its exit status, or 128 + signal. */
static int sweep_wait(struct sweep *s, int timeout_ms)
{
    int status;
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        sweep_read(s);
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == s->pid)
            break;
        cr_assert(now_ms() < end, "the sweep did not end within %d ms", timeout_ms);
        usleep(20000);
    }
    sweep_read(s);
    close(s->out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The one sweep folder under out_dir (the newest is `latest`). */
static void find_folder(const char *out_dir, char *folder, size_t len)
{
    DIR *d = opendir(out_dir);
    cr_assert_not_null(d, "no results directory %s", out_dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, "quick-", 6)) {
            snprintf(folder, len, "%s/%s", out_dir, e->d_name);
            n++;
        }
    closedir(d);
    cr_assert_eq(n, 1, "one sweep folder in %s, found %d", out_dir, n);
}

/* Checks that path is whole CSV: it ends with a newline, and every line has
 * the header's number of fields. Returns the number of data rows; a missing
 * file is allowed when may_be_missing (killed before it was made) and is 0. */
static int check_csv(const char *path, bool may_be_missing)
{
    FILE *f = fopen(path, "r");
    if (!f && may_be_missing)
        return 0;
    cr_assert_not_null(f, "%s is missing", path);
    static char line[1 << 16];
    int fields = -1, rows = 0, lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t n = strlen(line);
        cr_assert(n > 0 && line[n - 1] == '\n', "%s:%d: a line cut short: '%s'", path, lineno,
                  line);
        int k = 1;
        for (const char *p = line; *p; p++)
            k += *p == ',';
        if (fields < 0)
            fields = k;
        else
            rows++;
        cr_assert_eq(k, fields, "%s:%d: %d fields, the header has %d", path, lineno, k, fields);
    }
    fclose(f);
    return rows;
}

/* Checks the folder's CSV files; returns the rows of runs.csv. */
static int check_folder(const char *folder)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/runs.csv", folder);
    int rows = check_csv(path, false);
    snprintf(path, sizeof(path), "%s/latency.csv", folder);
    check_csv(path, true);
    snprintf(path, sizeof(path), "%s/timeline.csv", folder);
    check_csv(path, true);
    return rows;
}

/* Every process the sweep started is gone: the orphans came to this
 * subreaper and are reaped here, within REAP_MS. */
static void expect_no_stray_process(void)
{
    uint64_t end = now_ms() + REAP_MS;
    for (;;) {
        pid_t r = waitpid(-1, NULL, WNOHANG);
        if (r < 0 && errno == ECHILD)
            return;
        cr_assert(now_ms() < end, "a process of the sweep outlived it by %d ms", REAP_MS);
        if (r == 0)
            usleep(50000);
    }
}

/* Completed runs the sweep announced on stdout ("[k/N] ..." lines). */
static int announced_runs(const struct sweep *s)
{
    int n = 0;
    for (const char *p = s->text; (p = strchr(p, '[')); p++) {
        int k, total;
        if (sscanf(p, "[%d/%d]", &k, &total) == 2 && k > n)
            n = k;
    }
    return n;
}

/* Reads the sweep's output for ms. */
static void read_for(struct sweep *s, int ms)
{
    for (uint64_t end = now_ms() + (uint64_t)ms; now_ms() < end; usleep(10000))
        sweep_read(s);
}

/* The first round kills the sweep at a random moment of its first seconds,
 * its folder perhaps not yet made; the others once it has announced a run
 * (within RUN_MS, however busy the machine), at a random moment of the runs
 * after it, so that finished rows are always there to keep. */
Test(crash, sweep_killed_keeps_finished_runs)
{
    for (int round = 0; round < 3; round++) {
        char out[300];
        snprintf(out, sizeof(out), "%s/bench-%d", dir, round);
        int delay = round == 0 ? 300 + (int)(rand_r(&seed) % 3500) : (int)(rand_r(&seed) % 2000);
        struct sweep s;
        sweep_start(&s, out, NULL);
        for (uint64_t end = now_ms() + RUN_MS; round > 0 && announced_runs(&s) == 0;) {
            cr_assert(now_ms() < end, "the sweep announced no run in %d ms", RUN_MS);
            read_for(&s, 10);
        }
        read_for(&s, delay);
        kill(s.pid, SIGKILL);
        cr_assert_eq(sweep_wait(&s, 10000), 128 + SIGKILL);
        int announced = announced_runs(&s);
        fprintf(stderr, "crash: sweep killed %d ms %s, %d runs announced\n", delay,
                round == 0 ? "after its start" : "after its first run", announced);
        cr_assert(round == 0 || announced > 0, "killed after its first run, yet none announced");
        expect_no_stray_process();
        if (access(out, F_OK) != 0) {
            cr_assert_eq(announced, 0, "runs announced but no results folder");
            continue; /* killed before it made its folder */
        }
        char folder[400];
        find_folder(out, folder, sizeof(folder));
        int rows = check_folder(folder);
        cr_assert_geq(rows, announced, "every announced run has its row (%d rows, %d runs)", rows,
                      announced);
        cr_assert_leq(rows, announced + 1, "and no row for a run never finished");
    }
}

/* The sweep's child running `overlap <what>` (load, db or serve), or 0; its
 * command line, NULs between the arguments, into cmd (len bytes, n used). */
static pid_t find_child(pid_t parent, const char *what, char *cmd, size_t len, size_t *n)
{
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    pid_t found = 0;
    for (struct dirent *e; !found && (e = readdir(d));) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid <= 0 || process_state(pid, NULL) != parent)
            continue;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        *n = fread(cmd, 1, len - 1, f);
        fclose(f);
        cmd[*n] = '\0';
        size_t first = strlen(cmd) + 1; /* argv[1] follows argv[0]'s NUL */
        if (first < *n && !strcmp(cmd + first, what))
            found = pid;
    }
    closedir(d);
    return found;
}

/* The run a load generator measures: NNN of its `--csv .../runs/NNN-load.csv`. */
static int run_of_load(const char *cmd, size_t n)
{
    for (const char *arg = cmd; arg < cmd + n; arg += strlen(arg) + 1) {
        size_t len = strlen(arg);
        if (len > 13 && !strcmp(arg + len - 9, "-load.csv"))
            return atoi(arg + len - 12);
    }
    return 0;
}

/* Waits until pid is in a state of states (e.g. "T" stopped, "Z" dead and
 * unreaped); a process gone counts as dead. 1 if so, 0 if it reached
 * another final state or did not get there within REACH_MS (a signal takes
 * effect in microseconds; the bound only stops a wait for what never
 * comes, on a loaded machine and a sanitized build too). */
static int reaches(pid_t pid, const char *states)
{
    for (int i = 0; i < REACH_MS; i++) {
        char state = 'X';
        process_state(pid, &state);
        if (strchr(states, state) || (state == 'X' && strchr(states, 'Z')))
            return 1;
        if (state == 'Z' || state == 'X')
            return 0;
        usleep(1000);
    }
    return 0;
}

/* Kills the sweep's `what` process with SIGKILL at a random point of a
 * random run while that run's load generator is held stopped, so the kill
 * lands before the run is measured. Returns the run. */
static int kill_mid_run(struct sweep *s, const char *what, int delay_ms)
{
    char cmd[4096];
    size_t n;
    uint64_t end = now_ms() + (uint64_t)delay_ms;
    while (now_ms() < end) {
        sweep_read(s);
        usleep(5000);
    }
    for (;;) {
        sweep_read(s);
        cr_assert(now_ms() < end + RUN_MS, "no run under way to kill the %s of", what);
        pid_t load = find_child(s->pid, "load", cmd, sizeof(cmd), &n);
        int run = load ? run_of_load(cmd, n) : 0;
        if (!run || kill(load, SIGSTOP) < 0 || !reaches(load, "Tt")) {
            if (load)
                kill(load, SIGCONT); /* it ended meanwhile: the next run's, then */
            usleep(5000);
            continue;
        }
        pid_t victim = find_child(s->pid, what, cmd, sizeof(cmd), &n);
        if (victim)
            kill(victim, SIGKILL);
        /* dead before the run goes on, so the sweep cannot find it alive */
        int dead = victim && reaches(victim, "Z");
        kill(load, SIGCONT);
        cr_assert(dead, "no %s process of run %d to kill", what, run);
        fprintf(stderr, "crash: %s %d of run %d killed after %d ms\n", what, (int)victim, run,
                delay_ms);
        return run;
    }
}

/* Every row of runs.csv is ok but run's, which failed and says why. */
static void expect_only_run_failed(const char *runs, int run, const char *reason)
{
    struct csv_table t;
    cr_assert_eq(csv_load(runs, &t), 0, "cannot read %s", runs);
    cr_assert_eq(t.nrows, QUICK_RUNS, "a row for every run, failed or not");
    for (int i = 0; i < t.nrows; i++) {
        const char *status = csv_get(&t, i, "status"), *why = csv_get(&t, i, "reason");
        cr_expect_eq(atoi(csv_get(&t, i, "run")), i + 1);
        if (i + 1 != run) {
            cr_expect_str_eq(status, "ok", "run %d: %s", i + 1, why);
            continue;
        }
        cr_expect_str_eq(status, "failed", "the killed run %d is recorded %s", run, status);
        cr_expect(strstr(why, reason) != NULL, "run %d: want '%s' in '%s'", run, reason, why);
    }
    csv_free(&t);
}

/* The sweep goes on after a server or database of one run is killed: that
 * run's row says failed with the reason, the others are measured, and the
 * sweep exits 0. */
static void kill_a_child(const char *what, const char *reason, int round, const char *engines)
{
    char out[300];
    snprintf(out, sizeof(out), "%s/%s-%d", dir, what, round);
    struct sweep s;
    sweep_start(&s, out, engines);
    int run = kill_mid_run(&s, what, 300 + (int)(rand_r(&seed) % 2500));
    int status = sweep_wait(&s, 200000); /* a quick sweep: 40 s on a loaded machine */
    cr_assert(status == 0, "the sweep finishes the other runs and exits 0, got %d\n%s", status,
              s.text);
    char folder[400], runs[420];
    find_folder(out, folder, sizeof(folder));
    check_folder(folder);
    snprintf(runs, sizeof(runs), "%s/runs.csv", folder);
    expect_only_run_failed(runs, run, reason);
    expect_no_stray_process();
}

/* coroutines and io_uring here, the quick suite's pool and event loop when
 * the database is killed below */
Test(crash, server_killed_fails_only_its_run)
{
    kill_a_child("serve", "server killed by signal 9", 0, "coro uring");
}

/* one round, its run and moment drawn at random (the seed is printed) */
Test(crash, database_killed_fails_only_its_run)
{
    kill_a_child("db", "database killed by signal 9", 0, NULL);
}
