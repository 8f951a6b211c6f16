/* thumbnail.c - thumbnails with libvips, the one file that sees it. libvips reads only the
 * header first, so an image that claims to be enormous (an "image bomb") is refused before
 * any pixel is decoded; vips_thumbnail then shrinks on load where the format allows (JPEG,
 * WebP) and streams the rest. Anything libvips cannot read is simply no thumbnail. */
#include "server/thumbnail.h"

#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "server/log.h"

int thumbnail_init(const char *argv0)
{
    if (VIPS_INIT(argv0 ? argv0 : "amtsbote") != 0) {
        log_error("libvips: %s", vips_error_buffer());
        return -1;
    }
    vips_cache_set_max(0);       /* no cache of operations or images between requests */
    vips_concurrency_set(1);     /* the HTTP threads are the parallelism */
    vips_block_untrusted_set(1); /* no loaders libvips marks as unsafe for untrusted input */
    return 0;
}

void thumbnail_shutdown(void)
{
    vips_shutdown();
}

int thumbnail_make(const char *path, int width, int height, bool crop, char **out, size_t *len,
                   const char **content_type)
{
    *out = NULL;
    *len = 0;
    VipsImage *head = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!head) {
        vips_error_clear();
        return -1;
    }
    long long pixels = (long long)vips_image_get_width(head) * vips_image_get_height(head);
    g_object_unref(head);
    if (pixels <= 0 || pixels > THUMBNAIL_MAX_PIXELS)
        return -1;
    VipsImage *img = NULL;
    int rc =
        crop ? vips_thumbnail(path, &img, width, "height", height, "size", VIPS_SIZE_DOWN, "crop",
                              VIPS_INTERESTING_CENTRE, NULL)
             : vips_thumbnail(path, &img, width, "height", height, "size", VIPS_SIZE_DOWN, NULL);
    if (rc != 0 || !img) {
        vips_error_clear();
        return -1;
    }
    void *buf = NULL;
    size_t n = 0;
    bool alpha = vips_image_hasalpha(img);
    rc = alpha ? vips_pngsave_buffer(img, &buf, &n, NULL)
               : vips_jpegsave_buffer(img, &buf, &n, "Q", 80, "strip", TRUE, NULL);
    g_object_unref(img);
    if (rc != 0 || !buf) {
        vips_error_clear();
        return -1;
    }
    *out = malloc(n ? n : 1);
    if (*out)
        memcpy(*out, buf, n);
    g_free(buf);
    if (!*out)
        return -1;
    *len = n;
    *content_type = alpha ? "image/png" : "image/jpeg";
    return 0;
}
