/* arena.h - per-request bump allocator: many small allocations, one free. */
#ifndef AMTSBOTE_ARENA_H
#define AMTSBOTE_ARENA_H
#include <stdarg.h>
#include <stddef.h>

struct arena;

/* New empty arena; NULL on OOM. */
struct arena *arena_new(void);
/* Free every allocation and the arena itself. NULL-safe. */
void arena_free(struct arena *a);
/* `n` bytes aligned for any type, valid until arena_free; NULL on OOM. */
void *arena_alloc(struct arena *a, size_t n);
/* Copy of s[0..len) plus a NUL; NULL on OOM. */
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_strdup(struct arena *a, const char *s);
/* printf into the arena; NULL on OOM or encoding error. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap);

#endif
