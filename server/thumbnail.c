/* thumbnail.c - thumbnails with libvips, made in a child process.
 *
 * The server never loads libvips: linking it pulls in some forty libraries (poppler, librsvg,
 * codecs) and ~25 MB of resident memory, and image decoders are where malicious files strike.
 * Instead the server runs its own binary as `amtsbote thumbnail SRC W H crop|scale OUT`
 * (posix_spawn of /proc/self/exe), which loads libvips with dlopen, limits itself
 * (address space, CPU time), reads only the header first (an image claiming more than
 * THUMBNAIL_MAX_PIXELS is refused before any pixel is decoded), lets vips_thumbnail shrink on
 * load, and writes JPEG, or PNG for images with transparency. A crash or a hang there costs
 * one thumbnail, not the server: the child is killed after THUMBNAIL_TIMEOUT_MS.
 *
 * Thumbnails come in a fixed set of sizes (thumbnail_sizes; thumbnail_select picks the one
 * serving a request, as Synapse does), so a client cannot make the server store one per
 * width and height it can think of. */
#include "server/thumbnail.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vips/vips.h> /* types and prototypes only: the functions come from dlopen */

#include "server/log.h"

#define THUMBNAIL_TIMEOUT_MS 15000
#define EXIT_JPEG 0
#define EXIT_PNG 10
#define EXIT_REFUSED 11

extern char **environ;

static char self[4096];
static char tmpdir[4096];

int thumbnail_init(const char *store_tmp)
{
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        log_error("thumbnails: cannot find my own executable: %s", strerror(errno));
        return -1;
    }
    self[n] = '\0';
    snprintf(tmpdir, sizeof tmpdir, "%s", store_tmp);
    return 0;
}

void thumbnail_shutdown(void) {}

static atomic_bool cancelled;

void thumbnail_cancel(void)
{
    atomic_store(&cancelled, true);
}

const struct thumbnail_size thumbnail_default_sizes[] = {
    {32, 32, true}, {96, 96, true}, {320, 240, false}, {640, 480, false}, {800, 600, false}};
const size_t thumbnail_n_default_sizes =
    sizeof thumbnail_default_sizes / sizeof thumbnail_default_sizes[0];

/* Pick among sizes of method `crop` (any method when all_methods); -1 when none. */
static int pick(const struct thumbnail_size *sizes, size_t n, int width, int height, bool crop,
                bool all_methods)
{
    int best = -1;
    bool best_big = false;
    double best_aspect = 0;
    long long best_size = 0;
    double want_aspect = (double)width / height;
    for (size_t i = 0; i < n; i++) {
        const struct thumbnail_size *t = &sizes[i];
        if (!all_methods && t->crop != crop)
            continue;
        bool big = t->width >= width && t->height >= height;
        double aspect = crop ? fabs(want_aspect - (double)t->width / t->height) : 0;
        long long size = llabs((long long)(width - t->width) * (height - t->height));
        bool better = best < 0 || (big && !best_big) ||
                      (big == best_big &&
                       (aspect < best_aspect || (aspect == best_aspect && size < best_size)));
        if (better) {
            best = (int)i;
            best_big = big;
            best_aspect = aspect;
            best_size = size;
        }
    }
    return best;
}

int thumbnail_select(const struct thumbnail_size *sizes, size_t n, int width, int height,
                     bool crop)
{
    if (width < 1 || height < 1)
        return -1;
    int i = pick(sizes, n, width, height, crop, false);
    return i >= 0 ? i : pick(sizes, n, width, height, false, true);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int thumbnail_make(const char *path, int width, int height, bool crop, char **out, size_t *len,
                   const char **content_type)
{
    *out = NULL;
    *len = 0;
    char dest[4200], w[16], h[16];
    snprintf(dest, sizeof dest, "%s/thumb-XXXXXX", tmpdir);
    int fd = mkstemp(dest);
    if (fd < 0)
        return -1;
    close(fd);
    snprintf(w, sizeof w, "%d", width);
    snprintf(h, sizeof h, "%d", height);
    char *argv[] = {"amtsbote", "thumbnail", (char *)path, w, h, crop ? "crop" : "scale",
                    dest,       NULL};
    /* the child's environment: ours, but a sanitizer build does not hunt libvips' leaks */
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **envp = calloc(ne + 2, sizeof *envp);
    if (!envp) {
        unlink(dest);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "ASAN_OPTIONS=", 13) != 0)
            envp[k++] = environ[i];
    envp[k++] = "ASAN_OPTIONS=detect_leaks=0";
    pid_t pid;
    int rc = -1;
    int spawned = atomic_load(&cancelled) ? ECANCELED : posix_spawn(&pid, self, NULL, NULL, argv, envp);
    free(envp);
    if (spawned != 0) {
        log_error("thumbnails: cannot start %s: %s", self, strerror(errno));
        unlink(dest);
        return -1;
    }
    int status = 0;
    int64_t deadline = mono_ms() + THUMBNAIL_TIMEOUT_MS;
    for (;;) { /* bounded by the deadline */
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            status = -1;
            break;
        }
        if (mono_ms() > deadline || atomic_load(&cancelled)) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            log_warn("thumbnails: %s took too long; killed", path);
            status = -1;
            break;
        }
        struct timespec pause = {0, 5 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    int code = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == EXIT_JPEG || code == EXIT_PNG) {
        FILE *f = fopen(dest, "rb");
        struct stat st;
        if (f && fstat(fileno(f), &st) == 0 && st.st_size > 0 && st.st_size < (64 << 20)) {
            *out = malloc((size_t)st.st_size);
            if (*out && fread(*out, 1, (size_t)st.st_size, f) == (size_t)st.st_size) {
                *len = (size_t)st.st_size;
                *content_type = code == EXIT_PNG ? "image/png" : "image/jpeg";
                rc = 0;
            } else {
                free(*out);
                *out = NULL;
            }
        }
        if (f)
            fclose(f);
    }
    unlink(dest);
    return rc;
}

/* --- the child ------------------------------------------------------------------------------ */

#define SYM(name) __typeof__(name) *name##_p = (__typeof__(name) *)dlsym(lib, #name)

int thumbnail_main(int argc, char **argv)
{
    if (argc != 7)
        return 1;
    const char *src = argv[2], *dest = argv[6];
    int width = atoi(argv[3]), height = atoi(argv[4]);
    bool crop = strcmp(argv[5], "crop") == 0;
    if (width < 1 || height < 1)
        return 1;
    /* a decoder gone wrong must not take the machine with it */
    struct rlimit cpu = {10, 10};
    setrlimit(RLIMIT_CPU, &cpu);
#ifndef __SANITIZE_ADDRESS__ /* ASan reserves terabytes of address space for its shadow */
    struct rlimit as = {1024L << 20, 1024L << 20};
    setrlimit(RLIMIT_AS, &as);
#endif
    void *lib = dlopen("libvips.so.42", RTLD_NOW | RTLD_LOCAL);
    void *gobj = dlopen("libgobject-2.0.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!lib || !gobj) {
        fprintf(stderr, "thumbnail: libvips is not installed\n");
        return 1;
    }
    SYM(vips_init);
    SYM(vips_cache_set_max);
    SYM(vips_concurrency_set);
    SYM(vips_block_untrusted_set);
    SYM(vips_image_new_from_file);
    SYM(vips_image_get_width);
    SYM(vips_image_get_height);
    SYM(vips_image_hasalpha);
    SYM(vips_thumbnail);
    SYM(vips_jpegsave);
    SYM(vips_pngsave);
    __typeof__(g_object_unref) *unref = (__typeof__(g_object_unref) *)dlsym(gobj, "g_object_unref");
    if (!vips_init_p || !vips_cache_set_max_p || !vips_concurrency_set_p ||
        !vips_block_untrusted_set_p || !vips_image_new_from_file_p || !vips_image_get_width_p ||
        !vips_image_get_height_p || !vips_image_hasalpha_p || !vips_thumbnail_p ||
        !vips_jpegsave_p || !vips_pngsave_p || !unref || vips_init_p("amtsbote") != 0)
        return 1;
    vips_cache_set_max_p(0);
    vips_concurrency_set_p(1);
    vips_block_untrusted_set_p(1);
    VipsImage *head = vips_image_new_from_file_p(src, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!head)
        return EXIT_REFUSED;
    long long pixels = (long long)vips_image_get_width_p(head) * vips_image_get_height_p(head);
    unref(head);
    if (pixels <= 0 || pixels > THUMBNAIL_MAX_PIXELS)
        return EXIT_REFUSED;
    VipsImage *img = NULL;
    int rc =
        crop ? vips_thumbnail_p(src, &img, width, "height", height, "size", VIPS_SIZE_DOWN, "crop",
                                VIPS_INTERESTING_CENTRE, NULL)
             : vips_thumbnail_p(src, &img, width, "height", height, "size", VIPS_SIZE_DOWN, NULL);
    if (rc != 0 || !img)
        return EXIT_REFUSED;
    bool alpha = vips_image_hasalpha_p(img);
    rc = alpha ? vips_pngsave_p(img, dest, NULL)
               : vips_jpegsave_p(img, dest, "Q", 80, "strip", TRUE, NULL);
    unref(img);
    if (rc != 0)
        return 1;
    return alpha ? EXIT_PNG : EXIT_JPEG; /* no vips_shutdown: the process ends here */
}
