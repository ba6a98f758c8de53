/* The techempower dataset, the rows every database of overlap loads: World's
 * random numbers from the seeded generator and a dozen fortunes of our own.
 * `overlap db` (store.c) and `overlap pg` build their tables from here, so the
 * same seed gives both the same rows. */
#include "db.h"

/* Renderers must escape the HTML ones, and one is not ASCII. */
static const char *const fortunes[DB_FORTUNE_ROWS] = {
    "A query that waits is a thread that sleeps.",
    "Latency hides in the queue you did not measure.",
    "Little's law: what is in flight is rate times time.",
    "An event loop never blocks, until it does.",
    "Every pool is too small at the worst moment.",
    "Measure twice, then measure under load.",
    "The p99 is the user who complains.",
    "A context switch costs more than it looks.",
    "Coordinated omission: the stall you never saw.",
    "Tail latency & the <b>mean</b> tell different stories.",
    "<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
    "フレームワークのベンチマーク", /* "framework benchmark" */
};

void db_world_numbers(uint64_t seed, int32_t *numbers)
{
    struct wl_rng rng;
    wl_rng_seed(&rng, seed);
    for (int id = 1; id <= DB_WORLD_ROWS; id++)
        numbers[id - 1] = 1 + (int32_t)wl_rng_below(&rng, DB_WORLD_ROWS);
}

const char *db_fortune_message(int id)
{
    return id >= 1 && id <= DB_FORTUNE_ROWS ? fortunes[id - 1] : NULL;
}
