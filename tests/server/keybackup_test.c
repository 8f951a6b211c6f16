/* keybackup_test.c - the replacement rules of server-side key backups (Client-Server API
 * "Server-side key backups"): which of two keys for one session the server keeps. The named
 * cases follow the spec's three rules in order; the exhaustive one checks every combination
 * of small values against the rules read as one lexicographic order (verified first, then
 * lower first_message_index, then lower forwarded_count), under which a tie keeps the
 * stored key. */
#include "server/keybackup.h"
#include "tests/unit.h"

static bool replaces(bool sv, int64_t sfmi, int64_t sfc, bool iv, int64_t ifmi, int64_t ifc)
{
    struct keybackup_meta stored = {sv, sfmi, sfc}, incoming = {iv, ifmi, ifc};
    return keybackup_replaces(&stored, &incoming);
}

TEST(verified_wins)
{
    CHECK(replaces(false, 0, 0, true, 9, 9));  /* verified beats better index and count */
    CHECK(!replaces(true, 9, 9, false, 0, 0)); /* unverified never replaces verified */
}

TEST(lower_first_message_index_wins)
{
    CHECK(replaces(false, 5, 0, false, 4, 9));
    CHECK(replaces(true, 5, 0, true, 4, 9));
    CHECK(!replaces(false, 4, 9, false, 5, 0));
    CHECK(!replaces(true, 4, 9, true, 5, 0));
}

TEST(lower_forwarded_count_wins)
{
    CHECK(replaces(true, 3, 2, true, 3, 1));
    CHECK(!replaces(true, 3, 1, true, 3, 2));
    CHECK(replaces(false, 3, 2, false, 3, 1));
    CHECK(!replaces(false, 3, 1, false, 3, 2));
}

TEST(tie_keeps_stored)
{
    CHECK(!replaces(true, 3, 1, true, 3, 1));
    CHECK(!replaces(false, 0, 0, false, 0, 0));
}

TEST(exhaustive_small_values)
{
    for (int a = 0; a < 18; a++) {
        for (int b = 0; b < 18; b++) {
            bool sv = a / 9, iv = b / 9;
            int64_t sfmi = a / 3 % 3, sfc = a % 3, ifmi = b / 3 % 3, ifc = b % 3;
            /* rank: smaller is better */
            int64_t srank = (!sv) * 100 + sfmi * 10 + sfc, irank = (!iv) * 100 + ifmi * 10 + ifc;
            bool want = irank < srank;
            if (replaces(sv, sfmi, sfc, iv, ifmi, ifc) != want)
                UNIT_FAIL("stored (%d,%lld,%lld) incoming (%d,%lld,%lld): want %d", sv,
                          (long long)sfmi, (long long)sfc, iv, (long long)ifmi, (long long)ifc,
                          want);
            /* never both ways */
            CHECK(!(replaces(sv, sfmi, sfc, iv, ifmi, ifc) &&
                    replaces(iv, ifmi, ifc, sv, sfmi, sfc)));
        }
    }
}

int main(void)
{
    RUN(verified_wins);
    RUN(lower_first_message_index_wins);
    RUN(lower_forwarded_count_wins);
    RUN(tie_keeps_stored);
    RUN(exhaustive_small_values);
    return unit_done();
}
