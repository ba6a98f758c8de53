/* What the pg module's own files share: the cluster (cluster.c), its
 * guardian (guard.c) and the load (load.c). Names carry the internal prefix
 * pg__. */
#ifndef OVERLAP_PG_INTERNAL_H
#define OVERLAP_PG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pg.h"

#define PG__PATH        108 /* sun_path's size: the socket lives in the private directory */
#define PG__DSN         512
#define PG__PORT        5432 /* no TCP listener: only names the socket file */
#define PG__DEFAULT_BIN "/usr/lib/postgresql/15/bin"
#define PG__PACKAGE     "postgresql-15"

/* A throwaway cluster: the private directory holds data/, the logs and the
 * socket; everything in it goes when the cluster stops. */
struct pg__cluster {
    char dir[PG__PATH]; /* "" until made */
    char bin[4096];     /* initdb and postgres */
    bool drop;          /* running as root: initdb and postgres run as uid/gid */
    uid_t uid;
    gid_t gid;
    char user[64];           /* who runs them, for messages */
    pid_t postmaster;        /* 0 when not running */
    int postmaster_fd;       /* its pidfd, readable once it exits; -1 */
    pid_t guardian;          /* guard.c's process, 0 when none */
    int guard_fd;            /* the write end of the guardian's pipe; -1 */
    char dsn[PG__DSN];       /* the engines': role PG_ROLE */
    char admin_dsn[PG__DSN]; /* the superuser's */
};

/* Makes the private directory in parent (NULL: $TMPDIR or /tmp), runs
 * initdb, starts postgres with max_connections = connections + PG_RESERVED
 * and waits until it accepts connections, while watching stop_fd. 0, or -1
 * with the reason (and the end of the failing program's log) in err; then
 * the caller still calls pg__cluster_stop, which removes what was made. */
int pg__cluster_start(struct pg__cluster *c, const char *parent, const char *bin, int connections,
                      int stop_fd, char *err, size_t errlen);

/* Waits until stop_fd is readable (0) or postgres exits on its own (-1, the
 * end of its log in err). */
int pg__cluster_wait(struct pg__cluster *c, int stop_fd, char *err, size_t errlen);

/* Stops postgres (fast shutdown, SIGKILL after a bound), removes the
 * directory and lets the guardian go. Safe on a cluster half started. */
void pg__cluster_stop(struct pg__cluster *c);

/* ---- guard.c: a process that outlives a killed `overlap pg` ---- */

/* Forks the guardian of dir: when the returned fd's last writer is gone
 * (overlap pg exited, however), it stops the process last named by
 * pg__guard_watch and removes dir. The fd, or -errno. */
int pg__guard_start(const char *dir, pid_t *guardian);
/* Names the process to stop (0: none). */
void pg__guard_watch(int guard_fd, pid_t pid);

/* ---- load.c ---- */

/* Loads the workload's data through the superuser's dsn: pg_stat_statements,
 * the budget's role, the techempower tables from the seeded generator
 * (db/dataset.c), the init script, and a check that every query prepares.
 * 0, or -1 with the reason in err and *status 2 for the user's input (the
 * script, a query), 1 otherwise. */
int pg__load(const char *admin_dsn, const struct wl_workload *wl, uint64_t seed, int connections,
             char *err, size_t errlen, int *status);

#endif
