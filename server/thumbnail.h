/* thumbnail.h - image thumbnails with libvips. */
#ifndef AMTSBOTE_THUMBNAIL_H
#define AMTSBOTE_THUMBNAIL_H
#include <stdbool.h>
#include <stddef.h>

#define THUMBNAIL_MAX_PIXELS (32LL * 1000 * 1000) /* larger sources are refused undecoded */

/* Start-up and shutdown of libvips (no operation cache, one worker thread per image,
 * untrusted loaders blocked). 0 or -1. */
int thumbnail_init(const char *argv0);
void thumbnail_shutdown(void);

/* A thumbnail of the image file `path`: scaled to fit width x height, or (crop) filling
 * exactly width x height, never enlarged. PNG when the image has transparency, else JPEG.
 * Returns 0 with *out (malloc'd) / *len / *content_type (static), or -1 when the file is not
 * an image libvips can read, is larger than THUMBNAIL_MAX_PIXELS, or on failure. */
int thumbnail_make(const char *path, int width, int height, bool crop, char **out, size_t *len,
                   const char **content_type);

#endif
