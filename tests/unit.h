/* unit.h - the unit test harness: one binary per tested file, each test a function.
 *
 *   TEST(name) { CHECK(expr); CHECK_STR(a, b); CHECK_INT(a, b); }
 *   int main(void) { RUN(name); ...; return unit_done(); }
 *
 * Prints "ok - name" / "not ok - name: file:line: what" per test and finishes with the line
 * "<binary>: N passed, N failed"; the exit code is non-zero if anything failed. */
#ifndef AMTSBOTE_UNIT_H
#define AMTSBOTE_UNIT_H
#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed, unit_cur_failed;
static const char *unit_cur;

#define TEST(name) static void name(void)
#define RUN(name)                                                                                  \
    do {                                                                                           \
        unit_cur = #name;                                                                          \
        unit_cur_failed = 0;                                                                       \
        name();                                                                                    \
        if (unit_cur_failed)                                                                       \
            unit_failed++;                                                                         \
        else {                                                                                     \
            unit_passed++;                                                                         \
            printf("ok - %s\n", #name);                                                            \
        }                                                                                          \
    } while (0)

#define UNIT_FAIL(...)                                                                             \
    do {                                                                                           \
        if (!unit_cur_failed)                                                                      \
            printf("not ok - %s\n", unit_cur);                                                     \
        unit_cur_failed = 1;                                                                       \
        printf("    %s:%d: ", __FILE__, __LINE__);                                                 \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            UNIT_FAIL("CHECK(%s)", #cond);                                                         \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *unit_a_ = (a), *unit_b_ = (b);                                                 \
        if (!unit_a_ || !unit_b_ || strcmp(unit_a_, unit_b_) != 0)                                 \
            UNIT_FAIL("%s == %s: got \"%s\", want \"%s\"", #a, #b, unit_a_ ? unit_a_ : "(null)",   \
                      unit_b_ ? unit_b_ : "(null)");                                               \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long unit_a_ = (long long)(a), unit_b_ = (long long)(b);                              \
        if (unit_a_ != unit_b_)                                                                    \
            UNIT_FAIL("%s == %s: got %lld, want %lld", #a, #b, unit_a_, unit_b_);                  \
    } while (0)

static inline int unit_done_named(const char *file)
{
    const char *base = strrchr(file, '/');
    printf("%s: %d passed, %d failed\n", base ? base + 1 : file, unit_passed, unit_failed);
    return unit_failed ? 1 : 0;
}
#define unit_done() unit_done_named(__FILE__)

#endif
