/* thumbnail_test.c - which configured size serves a thumbnail request (Synapse's choice). */
#include "server/thumbnail.h"
#include "tests/unit.h"

static int sel(int w, int h, bool crop)
{
    return thumbnail_select(thumbnail_default_sizes, thumbnail_n_default_sizes, w, h, crop);
}

TEST(default_sizes)
{
    /* 0: 32x32 crop, 1: 96x96 crop, 2: 320x240 scale, 3: 640x480 scale, 4: 800x600 scale */
    CHECK_INT(sel(1, 1, true), 0);
    CHECK_INT(sel(32, 32, true), 0);
    CHECK_INT(sel(33, 33, true), 1);
    CHECK_INT(sel(100, 100, true), 1); /* none as large: the nearest */
    CHECK_INT(sel(100, 100, false), 2);
    CHECK_INT(sel(320, 240, false), 2);
    CHECK_INT(sel(321, 240, false), 3);
    CHECK_INT(sel(700, 100, false), 4);
    CHECK_INT(sel(100000, 100000, false), 4);
    CHECK_INT(sel(0, 10, false), -1);
}

TEST(custom_sizes)
{
    const struct thumbnail_size only_scale[] = {{200, 200, false}, {50, 50, false}};
    CHECK_INT(thumbnail_select(only_scale, 2, 40, 40, true), 1); /* no crop size: any method */
    CHECK_INT(thumbnail_select(only_scale, 2, 60, 60, false), 0);
    const struct thumbnail_size crops[] = {{64, 32, true}, {64, 64, true}};
    CHECK_INT(thumbnail_select(crops, 2, 30, 30, true), 1); /* the same aspect ratio first */
    CHECK_INT(thumbnail_select(crops, 2, 60, 30, true), 0);
    CHECK_INT(thumbnail_select(crops, 0, 60, 30, true), -1);
}

int main(void)
{
    RUN(default_sizes);
    RUN(custom_sizes);
    return unit_done();
}
