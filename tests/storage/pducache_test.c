/* pducache_test.c - the parsed-PDU cache: hits only in the same redaction state, hands out
 * independent copies, replaces on collision, survives many threads. */
#include <pthread.h>
#include <stdio.h>

#include "storage/pducache.h"
#include "tests/unit.h"

TEST(hit_and_redaction_state)
{
    json_t *pdu = json_pack("{s:s,s:{s:s}}", "type", "m.room.create", "content", "creator", "@a:x");
    CHECK(pducache_get("$e1", NULL) == NULL);
    pducache_put("$e1", NULL, pdu);
    json_t *got = pducache_get("$e1", NULL);
    CHECK(got && json_equal(got, pdu));
    CHECK(got != pdu);
    /* a copy: changing it changes neither the cache nor the original */
    json_object_set_new(json_object_get(got, "content"), "creator", json_string("@evil:x"));
    json_t *again = pducache_get("$e1", NULL);
    CHECK_STR(json_string_value(json_object_get(json_object_get(again, "content"), "creator")),
              "@a:x");
    /* redacted since: the unredacted entry is not served */
    CHECK(pducache_get("$e1", "$redaction") == NULL);
    json_t *red = json_pack("{s:s,s:{}}", "type", "m.room.create", "content");
    pducache_put("$e1", "$redaction", red);
    json_t *r = pducache_get("$e1", "$redaction");
    CHECK(r && json_object_size(json_object_get(r, "content")) == 0);
    CHECK(pducache_get("$e1", NULL) == NULL);
    json_decref(pdu);
    json_decref(got);
    json_decref(again);
    json_decref(red);
    json_decref(r);
}

TEST(bounded)
{
    char id[32];
    json_t *v = json_pack("{s:i}", "n", 1);
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "$ev%d", i);
        pducache_put(id, NULL, v);
    }
    int hits = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "$ev%d", i);
        json_t *g = pducache_get(id, NULL);
        hits += g != NULL;
        json_decref(g);
    }
    CHECK(hits > 0 && hits <= 4096);
    json_decref(v);
}

static void *hammer(void *arg)
{
    char id[32];
    json_t *v = json_pack("{s:i}", "n", (int)(long)arg);
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "$t%d", i % 300);
        pducache_put(id, NULL, v);
        json_decref(pducache_get(id, NULL));
    }
    json_decref(v);
    return NULL;
}

TEST(threads)
{
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    json_t *g = pducache_get("$t1", NULL);
    CHECK(g && json_is_integer(json_object_get(g, "n")));
    json_decref(g);
}

int main(void)
{
    RUN(hit_and_redaction_state);
    RUN(bounded);
    RUN(threads);
    pducache_free();
    return unit_done();
}
