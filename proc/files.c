/* Files as the commands handle them whole: a private folder removed with
 * what it holds (the sweep's builds, a check's folder, a throwaway
 * PostgreSQL cluster), a file read into memory, a file copied. */
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS, getdelim */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int proc_remove_tree(const char *dir)
{
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
        return errno == ENOENT ? 0 : -errno;
    return 0;
}

char *proc_read_file(const char *path, size_t *len)
{
    char *text = NULL;
    size_t cap = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    ssize_t n = getdelim(&text, &cap, '\0', f);
    int err = n < 0 && ferror(f) ? EIO : 0;
    fclose(f);
    if (n < 0) { /* an empty file, or an error */
        free(text);
        text = err ? NULL : strdup("");
        n = 0;
    }
    if (err)
        errno = err;
    if (text && len)
        *len = (size_t)n;
    return text;
}

int proc_copy_file(const char *from, const char *to, bool exclusive)
{
    char buf[65536];
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC);
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(to, flags, 0644);
    int err = out < 0 ? errno : 0;
    ssize_t n;
    while (!err && (n = read(in, buf, sizeof(buf))) != 0) {
        if (n < 0)
            err = errno;
        for (ssize_t done = 0; !err && done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0)
                err = errno;
            else
                done += w;
        }
    }
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) < 0 && !err)
        err = errno;
    return -err;
}
