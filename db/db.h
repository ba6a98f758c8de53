/* The simulated database: its wire protocol, the server (`overlap db`) and the
 * client codec both engines share. See PROTOCOL.md for the frames. */
#ifndef OVERLAP_DB_H
#define OVERLAP_DB_H

#include <stdint.h>

/* A typed value: a bound parameter or one cell of a result row. Text points
 * into a buffer owned by whoever decoded it, and is not NUL-terminated. */
enum db_type {
    DB_NULL = 0,
    DB_INT = 1,
    DB_REAL = 2,
    DB_TEXT = 3,
};

struct db_value {
    enum db_type type;
    uint32_t len; /* DB_TEXT: bytes at text */
    union {
        int64_t i;
        double r;
        const char *text;
    };
};

#endif
