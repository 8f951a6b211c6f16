/* room_txn_test.c - client transaction keys (server/room_txn.c): the path hash against
 * vectors computed independently (Python's hashlib over "<byte length>:<bytes>" per part),
 * the key's shape that storage splits, and the bound. Migration 0140 computes the same hash in
 * SQL for rows stored before it: these vectors pin the format both depend on. */
#include <string.h>

#include "server/room_txn.h"
#include "storage/events.h"
#include "tests/unit.h"

TEST(path_hash_vectors)
{
    char h[ROOM_TXN_HASH_HEX + 1];
    const char *send[] = {"send", "!r:test.local", "m.room.message"};
    room_txn_hash(h, send, 3);
    CHECK_STR(h, "09fd01e3720d092b03b57bbfd90a0da0744e5db52eeef227c104be83ce8aff4f");
    const char *redact[] = {"redact", "!r:test.local", "$ev"};
    room_txn_hash(h, redact, 3);
    CHECK_STR(h, "467a09edb8e4f50914436435eef25dc3031eb1a3eb8df7815acd03c5fa0bed1c");
    const char *notice[] = {"send_server_notice"};
    room_txn_hash(h, notice, 1);
    CHECK_STR(h, "3f471485cca8826121f782c517c73b7df763db229678627defb3ca6ad4fb5e86");
    const char *utf8[] = {"send", "!r:test.local", "m.\xc3\xbc"}; /* lengths count bytes */
    room_txn_hash(h, utf8, 3);
    CHECK_STR(h, "379a90acd0465c8a19603fe41084a0f9ce79a107e44b29d71d5a93c2f8673a96");
}

TEST(parts_do_not_run_together)
{
    char a[ROOM_TXN_HASH_HEX + 1], b[ROOM_TXN_HASH_HEX + 1];
    const char *p1[] = {"ab", "c"}, *p2[] = {"a", "bc"};
    room_txn_hash(a, p1, 2);
    room_txn_hash(b, p2, 2);
    CHECK_STR(a, "430fb1b4ac43316eca81fab27a1930ab8eff8fef6a1dc7903dce44bbc2790dc5");
    CHECK(strcmp(a, b) != 0);
}

TEST(key_shape)
{
    char key[ROOM_TXN_KEY_MAX], h[ROOM_TXN_HASH_HEX + 1];
    const char *path[] = {"send", "!r:test.local", "m.room.message"};
    CHECK_INT(room_txn_key(key, sizeof key, "m1.2", path, 3), 0);
    room_txn_hash(h, path, 3);
    CHECK_INT(strlen(key), 4 + 1 + DB_TXN_SCOPE_HEX);
    CHECK(memcmp(key, "m1.2\x1f", 5) == 0);
    CHECK_STR(key + 5, h);
    /* a txnId may hold the separator: storage splits from the end */
    CHECK_INT(room_txn_key(key, sizeof key, "a\x1f" "b", path, 3), 0);
    CHECK_INT(strlen(key), 3 + 1 + DB_TXN_SCOPE_HEX);
    CHECK_STR(key + 4, h);
    /* the other room: the same txnId is another key */
    char other[ROOM_TXN_KEY_MAX];
    const char *path2[] = {"send", "!s:test.local", "m.room.message"};
    CHECK_INT(room_txn_key(other, sizeof other, "a\x1f" "b", path2, 3), 0);
    CHECK(strcmp(key, other) != 0);
}

TEST(bounds)
{
    char txn[256], key[ROOM_TXN_KEY_MAX];
    memset(txn, 'x', 255);
    txn[255] = '\0';
    const char *path[] = {"send", "!r:test.local", "m.room.message"};
    CHECK_INT(room_txn_key(key, sizeof key, txn, path, 3), 0); /* 255 bytes: the API's limit */
    CHECK_INT(room_txn_key(key, 255 + 1 + DB_TXN_SCOPE_HEX, txn, path, 3), -1); /* no NUL room */
    CHECK_INT(room_txn_key(key, 255 + 1 + DB_TXN_SCOPE_HEX + 1, txn, path, 3), 0);
}

int main(void)
{
    RUN(path_hash_vectors);
    RUN(parts_do_not_run_together);
    RUN(key_shape);
    RUN(bounds);
    return unit_done();
}
