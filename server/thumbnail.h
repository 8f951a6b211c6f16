/* thumbnail.h - image thumbnails with libvips. */
#ifndef AMTSBOTE_THUMBNAIL_H
#define AMTSBOTE_THUMBNAIL_H
#include <stdbool.h>
#include <stddef.h>

#define THUMBNAIL_MAX_PIXELS (32LL * 1000 * 1000) /* larger sources are refused undecoded */

/* Start-up: find this executable (the child runs it again) and the directory for the
 * children's output (`store_tmp`, inside media_store_path). 0 or -1. */
int thumbnail_init(const char *store_tmp);
void thumbnail_shutdown(void);
/* The child: `amtsbote thumbnail SRC W H crop|scale OUT` (main.c's subcommand). Its exit
 * status says what it wrote: 0 JPEG, 10 PNG, 11 not an image it may decode, 1 failure. */
int thumbnail_main(int argc, char **argv);

/* A thumbnail of the image file `path`: scaled to fit width x height, or (crop) filling
 * exactly width x height, never enlarged. PNG when the image has transparency, else JPEG.
 * Returns 0 with *out (malloc'd) / *len / *content_type (static), or -1 when the file is not
 * an image libvips can read, is larger than THUMBNAIL_MAX_PIXELS, or on failure. */
int thumbnail_make(const char *path, int width, int height, bool crop, char **out, size_t *len,
                   const char **content_type);

/* One size thumbnails are made in (Synapse's thumbnail_sizes entries). */
struct thumbnail_size {
    int width, height;
    bool crop; /* method crop, else scale */
};
/* Synapse's default thumbnail_sizes: 32x32 crop, 96x96 crop, 320x240 scale, 640x480 scale,
 * 800x600 scale. */
extern const struct thumbnail_size thumbnail_default_sizes[];
extern const size_t thumbnail_n_default_sizes;

/* Which of sizes[0..n) serves a request for width x height by method (pure), as Synapse
 * chooses: among the sizes of that method, those at least as large as asked come first; of
 * these (else of the rest) the closest aspect ratio for crop, then the smallest
 * |(w - W) * (h - H)|; ties go to the earlier size. Without a size of that method, the
 * closest of all. The index, or -1 when n == 0. */
int thumbnail_select(const struct thumbnail_size *sizes, size_t n, int width, int height,
                     bool crop);

/* Shutdown: children being made are killed and thumbnail_make fails from now on. */
void thumbnail_cancel(void);

#endif
