/* fedqueue_test.c - storage/fedqueue.c against PostgreSQL: a transaction takes at most the
 * limits in queue order, is taken again unchanged (same txn_id, same rows) until it is done, a
 * failure keeps the back-off, and stored answers to received transactions are found again. */
#include <stdlib.h>
#include <string.h>

#include "storage/fedqueue.h"
#include "tests/dbtest.h"
#include "tests/unit.h"

TEST(queue_take_retry_done)
{
    struct dbc *c = db_get();
    CHECK(c != NULL);
    if (!c)
        return;
    json_t *dests = json_pack("[s,s]", "a.example", "b.example");
    char body[32];
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body, "{\"n\":%d}", i);
        CHECK(db_fedq_add(c, dests, DB_FEDQ_PDU, body) == 0);
    }
    CHECK(db_fedq_add(c, dests, DB_FEDQ_EDU, "{\"e\":1}") == 0);
    json_t *pending = db_fedq_pending(c);
    CHECK(json_array_size(pending) == 2);
    json_decref(pending);

    char *txn = NULL;
    json_t *pdus = NULL, *edus = NULL;
    CHECK(db_fedq_take(c, "a.example", "t1", 3, 10, &txn, &pdus, &edus) == 0);
    CHECK(txn && strcmp(txn, "t1") == 0);
    CHECK(json_array_size(pdus) == 3 && json_array_size(edus) == 1);
    CHECK(strcmp(json_string_value(json_array_get(pdus, 0)), "{\"n\":0}") == 0);
    free(txn);
    json_decref(pdus);
    json_decref(edus);
    /* a failure: the same transaction again, whatever new ID is offered */
    CHECK(db_fedq_failed(c, "a.example", 4000, 12345) == 0);
    CHECK(db_fedq_retry_ms(c, "a.example") == 4000);
    CHECK(db_fedq_take(c, "a.example", "t2", 3, 10, &txn, &pdus, &edus) == 0);
    CHECK(txn && strcmp(txn, "t1") == 0);
    CHECK(json_array_size(pdus) == 3 && json_array_size(edus) == 1);
    /* done: the rest goes in the next transaction, the back-off is forgotten */
    CHECK(db_fedq_done(c, "a.example", txn) == 0);
    CHECK(db_fedq_retry_ms(c, "a.example") == 0);
    free(txn);
    json_decref(pdus);
    json_decref(edus);
    CHECK(db_fedq_take(c, "a.example", "t3", 3, 10, &txn, &pdus, &edus) == 0);
    CHECK(txn && strcmp(txn, "t3") == 0);
    CHECK(json_array_size(pdus) == 2 && json_array_size(edus) == 0);
    CHECK(strcmp(json_string_value(json_array_get(pdus, 0)), "{\"n\":3}") == 0);
    CHECK(db_fedq_done(c, "a.example", txn) == 0);
    free(txn);
    json_decref(pdus);
    json_decref(edus);
    /* nothing left for a.example: empty arrays; b.example untouched */
    CHECK(db_fedq_take(c, "a.example", "t4", 3, 10, &txn, &pdus, &edus) == 0);
    CHECK(json_array_size(pdus) == 0 && json_array_size(edus) == 0);
    free(txn);
    json_decref(pdus);
    json_decref(edus);
    pending = db_fedq_pending(c);
    CHECK(json_array_size(pending) == 1);
    CHECK(strcmp(json_string_value(json_array_get(json_array_get(pending, 0), 0)), "b.example") ==
          0);
    json_decref(pending);
    json_decref(dests);
    db_put(c);
}

/* EDUs left for the next transaction hold back the PDUs queued after them. */
TEST(no_pdu_overtakes_an_edu)
{
    struct dbc *c = db_get();
    CHECK(c != NULL);
    if (!c)
        return;
    json_t *dests = json_pack("[s]", "order.example");
    CHECK(db_fedq_add(c, dests, DB_FEDQ_PDU, "{\"p\":0}") == 0);
    for (int i = 0; i < 3; i++) {
        char body[32];
        snprintf(body, sizeof body, "{\"key\":%d}", i);
        CHECK(db_fedq_add(c, dests, DB_FEDQ_EDU, body) == 0);
    }
    CHECK(db_fedq_add(c, dests, DB_FEDQ_PDU, "{\"p\":1}") == 0);
    char *txn = NULL;
    json_t *pdus = NULL, *edus = NULL;
    /* two EDUs fit: the PDU before them goes, the one after the third EDU waits */
    CHECK(db_fedq_take(c, "order.example", "o1", 10, 2, &txn, &pdus, &edus) == 0);
    CHECK_INT((int)json_array_size(pdus), 1);
    CHECK_INT((int)json_array_size(edus), 2);
    CHECK_STR(json_string_value(json_array_get(pdus, 0)), "{\"p\":0}");
    CHECK(db_fedq_done(c, "order.example", txn) == 0);
    free(txn);
    json_decref(pdus);
    json_decref(edus);
    CHECK(db_fedq_take(c, "order.example", "o2", 10, 2, &txn, &pdus, &edus) == 0);
    CHECK_INT((int)json_array_size(pdus), 1);
    CHECK_INT((int)json_array_size(edus), 1);
    CHECK_STR(json_string_value(json_array_get(edus, 0)), "{\"key\":2}");
    CHECK_STR(json_string_value(json_array_get(pdus, 0)), "{\"p\":1}");
    CHECK(db_fedq_done(c, "order.example", txn) == 0);
    free(txn);
    json_decref(pdus);
    json_decref(edus);
    json_decref(dests);
    db_put(c);
}

TEST(byte_bound)
{
    struct dbc *c = db_get();
    CHECK(c != NULL);
    if (!c)
        return;
    json_t *dests = json_pack("[s]", "big.example");
    size_t len = 1024 * 1024 + 16;
    char *body = malloc(len + 1);
    CHECK(body != NULL);
    if (!body) {
        db_put(c);
        return;
    }
    memset(body, 'x', len);
    body[0] = '"';
    body[len - 1] = '"';
    body[len] = '\0';
    for (int i = 0; i < 4; i++) /* 4 PDUs of 1 MiB: 2 fit under 3 MiB */
        CHECK(db_fedq_add(c, dests, DB_FEDQ_PDU, body) == 0);
    char *txn = NULL;
    json_t *pdus = NULL, *edus = NULL;
    CHECK(db_fedq_take(c, "big.example", "b1", 50, 100, &txn, &pdus, &edus) == 0);
    CHECK(json_array_size(pdus) == 2);
    CHECK(db_fedq_done(c, "big.example", txn) == 0);
    free(txn);
    json_decref(pdus);
    json_decref(edus);
    free(body);
    json_decref(dests);
    db_put(c);
}

TEST(received_answers)
{
    struct dbc *c = db_get();
    CHECK(c != NULL);
    if (!c)
        return;
    char *ans = NULL;
    CHECK(db_fedtxn_get(c, "o.example", "x", &ans) == 0 && ans == NULL);
    CHECK(db_fedtxn_put(c, "o.example", "x", "{\"pdus\":{}}", 1000) == 0);
    CHECK(db_fedtxn_put(c, "o.example", "x", "{\"other\":1}", 1001) == 0); /* first one kept */
    CHECK(db_fedtxn_get(c, "o.example", "x", &ans) == 0 && ans && !strcmp(ans, "{\"pdus\":{}}"));
    free(ans);
    CHECK(db_fedtxn_get(c, "p.example", "x", &ans) == 0 && ans == NULL); /* per origin */
    db_put(c);
}

int main(void)
{
    if (dbtest_open("fedqueue") < 0) {
        printf("fedqueue_test.c: 0 passed, 1 failed\n");
        return 1;
    }
    RUN(queue_take_retry_done);
    RUN(no_pdu_overtakes_an_edu);
    RUN(byte_bound);
    RUN(received_answers);
    dbtest_close();
    return unit_done();
}
