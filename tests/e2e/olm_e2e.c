/* olm_e2e.c - real Olm and Megolm through the server's HTTP API (libolm, the C library
 * Element's older clients used). Two devices, A and B, of two users:
 *   1. each creates an Olm account and uploads its signed identity keys and five signed
 *      one-time keys (/keys/upload);
 *   2. B queries A's keys (/keys/query) and verifies A's signature on what came back, claims
 *      one of A's one-time keys (/keys/claim) and verifies its signature;
 *   3. B opens an Olm session and sends an m.room.encrypted to-device message
 *      (/sendToDevice); A receives it through /sync, sees its one-time key count drop by
 *      one, opens the inbound session from the pre-key message and decrypts it;
 *   4. B shares a Megolm session key with A in an Olm-encrypted m.room_key, then sends an
 *      m.room.encrypted event into a room both joined; A reads it from /sync and decrypts it.
 * Every decryption succeeding proves the server passed keys and ciphertext untouched.
 *
 * Run by tests/e2e/test_olm_e2e.py, which starts the server and registers the users:
 *   olm_e2e <base URL> <token A> <user A> <device A> <token B> <user B> <device B>
 * Ends with "N passed, N failed"; exit status 0 only if everything passed. */
#include <curl/curl.h>
#include <jansson.h>
#include <olm/inbound_group_session.h>
#include <olm/olm.h>
#include <olm/outbound_group_session.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/cjson.h"

static int passed, failed;
static const char *base;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            printf("not ok - %s:%d: ", __FILE__, __LINE__);                                        \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

/* --- HTTP ----------------------------------------------------------------------------------- */

struct buf {
    char *p;
    size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    size_t add = size * nmemb;
    char *q = realloc(b->p, b->n + add + 1);
    if (!q)
        return 0;
    memcpy(q + b->n, ptr, add);
    b->p = q;
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

/* One request; the parsed JSON answer (new) or NULL, the status in *status. */
static json_t *request(const char *method, const char *path, const json_t *body, const char *token,
                       long *status)
{
    CURL *c = curl_easy_init();
    struct buf out = {0};
    char url[2048], auth[512];
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *h = NULL;
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (text)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    *status = 0;
    json_t *j = NULL;
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        j = out.p ? json_loads(out.p, 0, NULL) : NULL;
        if (*status != 200)
            printf("# %s %s -> %ld %s\n", method, path, *status, out.p ? out.p : "");
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(out.p);
    free(text);
    return j;
}

static char *esc(const char *s)
{
    CURL *c = curl_easy_init();
    char *e = curl_easy_escape(c, s, 0);
    char *out = strdup(e);
    curl_free(e);
    curl_easy_cleanup(c);
    return out;
}

/* --- Olm helpers -------------------------------------------------------------------------- */

static void *random_bytes(size_t n)
{
    void *r = malloc(n ? n : 1);
    randombytes_buf(r, n);
    return r;
}

struct device {
    const char *token, *user, *id;
    OlmAccount *acct;
    json_t *identity; /* {"curve25519": ..., "ed25519": ...} */
};

/* Sign the canonical JSON of obj (without signatures/unsigned) as the device. */
static void sign_object(struct device *d, json_t *obj)
{
    json_t *copy = json_deep_copy(obj);
    json_object_del(copy, "signatures");
    json_object_del(copy, "unsigned");
    size_t len;
    char *canon = cjson_encode(copy, &len);
    size_t sl = olm_account_signature_length(d->acct);
    char *sig = calloc(1, sl + 1);
    olm_account_sign(d->acct, canon, len, sig, sl);
    char kid[300];
    snprintf(kid, sizeof kid, "ed25519:%s", d->id);
    json_object_set_new(obj, "signatures", json_pack("{s:{s:s}}", d->user, kid, sig));
    free(sig);
    free(canon);
    json_decref(copy);
}

/* Verify obj's signature by user's ed25519:device with the base64 key `pub`. */
static bool verify_object(const json_t *obj, const char *user, const char *device, const char *pub)
{
    char kid[300];
    snprintf(kid, sizeof kid, "ed25519:%s", device);
    const char *sig = json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "signatures"), user), kid));
    if (!sig || !pub)
        return false;
    json_t *copy = json_deep_copy(obj);
    json_object_del(copy, "signatures");
    json_object_del(copy, "unsigned");
    size_t len;
    char *canon = cjson_encode(copy, &len);
    json_decref(copy);
    OlmUtility *u = olm_utility(malloc(olm_utility_size()));
    char *sigcopy = strdup(sig); /* olm_ed25519_verify destroys the signature buffer */
    size_t r = olm_ed25519_verify(u, pub, strlen(pub), canon, len, sigcopy, strlen(sigcopy));
    olm_clear_utility(u);
    free(u);
    free(sigcopy);
    free(canon);
    return r != olm_error();
}

static void device_init(struct device *d)
{
    d->acct = olm_account(malloc(olm_account_size()));
    size_t rl = olm_create_account_random_length(d->acct);
    void *r = random_bytes(rl);
    olm_create_account(d->acct, r, rl);
    free(r);
    size_t kl = olm_account_identity_keys_length(d->acct);
    char *k = calloc(1, kl + 1);
    olm_account_identity_keys(d->acct, k, kl);
    d->identity = json_loads(k, 0, NULL);
    free(k);
}

static void device_free(struct device *d)
{
    olm_clear_account(d->acct);
    free(d->acct);
    json_decref(d->identity);
}

static const char *ident(struct device *d, const char *alg)
{
    return json_string_value(json_object_get(d->identity, alg));
}

/* Upload signed device keys and n signed one-time keys; the server's count. */
static json_int_t upload_keys(struct device *d, size_t n)
{
    char ck[300], ek[300];
    snprintf(ck, sizeof ck, "curve25519:%s", d->id);
    snprintf(ek, sizeof ek, "ed25519:%s", d->id);
    json_t *dk = json_pack("{s:s,s:s,s:[ss],s:{s:s,s:s}}", "user_id", d->user, "device_id", d->id,
                           "algorithms", "m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2",
                           "keys", ck, ident(d, "curve25519"), ek, ident(d, "ed25519"));
    sign_object(d, dk);
    size_t rl = olm_account_generate_one_time_keys_random_length(d->acct, n);
    void *r = random_bytes(rl);
    olm_account_generate_one_time_keys(d->acct, n, r, rl);
    free(r);
    size_t ol = olm_account_one_time_keys_length(d->acct);
    char *otk_text = calloc(1, ol + 1);
    olm_account_one_time_keys(d->acct, otk_text, ol);
    json_t *otks = json_loads(otk_text, 0, NULL), *signed_otks = json_object();
    free(otk_text);
    const char *id;
    json_t *key;
    json_object_foreach(json_object_get(otks, "curve25519"), id, key)
    {
        json_t *o = json_pack("{s:O}", "key", key);
        sign_object(d, o);
        char name[300];
        snprintf(name, sizeof name, "signed_curve25519:%s", id);
        json_object_set_new(signed_otks, name, o);
    }
    olm_account_mark_keys_as_published(d->acct);
    json_t *body = json_pack("{s:o,s:o}", "device_keys", dk, "one_time_keys", signed_otks);
    long st;
    json_t *res = request("POST", "/_matrix/client/v3/keys/upload", body, d->token, &st);
    json_int_t count = json_integer_value(
        json_object_get(json_object_get(res, "one_time_key_counts"), "signed_curve25519"));
    json_decref(res);
    json_decref(body);
    json_decref(otks);
    return st == 200 ? count : -1;
}

/* An Olm-encrypted to-device content from `from` to `to` over session s. */
static json_t *olm_content(struct device *from, struct device *to, OlmSession *s, const char *type,
                           json_t *content)
{
    json_t *plain = json_pack("{s:s,s:O,s:s,s:s,s:s,s:{s:s},s:{s:s}}", "type", type, "content",
                              content, "sender", from->user, "sender_device", from->id, "recipient",
                              to->user, "keys", "ed25519", ident(from, "ed25519"), "recipient_keys",
                              "ed25519", ident(to, "ed25519"));
    char *text = json_dumps(plain, JSON_COMPACT);
    size_t tl = strlen(text);
    size_t mtype = olm_encrypt_message_type(s);
    size_t rl = olm_encrypt_random_length(s);
    void *r = random_bytes(rl);
    size_t ml = olm_encrypt_message_length(s, tl);
    char *msg = calloc(1, ml + 1);
    olm_encrypt(s, text, tl, r, rl, msg, ml);
    json_t *out = json_pack("{s:s,s:s,s:{s:{s:i,s:s}}}", "algorithm",
                            "m.olm.v1.curve25519-aes-sha2", "sender_key", ident(from, "curve25519"),
                            "ciphertext", ident(to, "curve25519"), "type", (int)mtype, "body", msg);
    free(r);
    free(msg);
    free(text);
    json_decref(plain);
    return out;
}

/* Decrypt an Olm to-device content for `to` (creating the inbound session on a pre-key
 * message if *s is NULL); the plaintext JSON (new) or NULL. */
static json_t *olm_open(struct device *to, OlmSession **s, const json_t *content)
{
    json_t *ct = json_object_get(json_object_get(content, "ciphertext"), ident(to, "curve25519"));
    const char *sender_key = json_string_value(json_object_get(content, "sender_key"));
    size_t type = (size_t)json_integer_value(json_object_get(ct, "type"));
    const char *body = json_string_value(json_object_get(ct, "body"));
    if (!body || !sender_key)
        return NULL;
    if (!*s) {
        *s = olm_session(malloc(olm_session_size()));
        char *m = strdup(body);
        size_t r = olm_create_inbound_session_from(*s, to->acct, sender_key, strlen(sender_key), m,
                                                   strlen(m));
        free(m);
        if (r == olm_error())
            return NULL;
        olm_remove_one_time_keys(to->acct, *s);
    }
    char *m = strdup(body);
    size_t max = olm_decrypt_max_plaintext_length(*s, type, m, strlen(m));
    free(m);
    if (max == olm_error())
        return NULL;
    char *plain = calloc(1, max + 1);
    m = strdup(body);
    size_t n = olm_decrypt(*s, type, m, strlen(m), plain, max);
    free(m);
    json_t *out = n == olm_error() ? NULL : json_loadb(plain, n, 0, NULL);
    free(plain);
    return out;
}

/* The to-device events of a sync response (borrowed). */
static json_t *to_device_events(json_t *sync)
{
    return json_object_get(json_object_get(sync, "to_device"), "events");
}

static json_t *sync(struct device *d, const char *since)
{
    char path[512];
    char *e = since ? esc(since) : NULL;
    snprintf(path, sizeof path, "/_matrix/client/v3/sync?timeout=0%s%s", e ? "&since=" : "",
             e ? e : "");
    free(e);
    long st;
    return request("GET", path, NULL, d->token, &st);
}

int main(int argc, char **argv)
{
    if (argc != 8 || sodium_init() < 0) {
        fprintf(stderr, "usage: olm_e2e <base> <tokenA> <userA> <devA> <tokenB> <userB> "
                        "<devB>\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    base = argv[1];
    struct device a = {argv[2], argv[3], argv[4], NULL, NULL};
    struct device b = {argv[5], argv[6], argv[7], NULL, NULL};
    device_init(&a);
    device_init(&b);
    long st;
    char path[1024];

    /* 1. keys up */
    CHECK(upload_keys(&a, 5) == 5, "A's upload reports 5 one-time keys");
    CHECK(upload_keys(&b, 5) == 5, "B's upload reports 5 one-time keys");
    json_t *s0 = sync(&a, NULL);
    const char *a_since = json_string_value(json_object_get(s0, "next_batch"));
    CHECK(a_since != NULL, "A's first sync");

    /* 2. B queries and claims, verifying what came back */
    json_t *q = json_pack("{s:{s:[]}}", "device_keys", a.user);
    json_t *qr = request("POST", "/_matrix/client/v3/keys/query", q, b.token, &st);
    json_t *adk =
        json_object_get(json_object_get(json_object_get(qr, "device_keys"), a.user), a.id);
    char ek[300], ck[300];
    snprintf(ek, sizeof ek, "ed25519:%s", a.id);
    snprintf(ck, sizeof ck, "curve25519:%s", a.id);
    const char *a_ed = json_string_value(json_object_get(json_object_get(adk, "keys"), ek));
    const char *a_curve = json_string_value(json_object_get(json_object_get(adk, "keys"), ck));
    CHECK(a_ed && strcmp(a_ed, ident(&a, "ed25519")) == 0, "A's ed25519 key as uploaded");
    CHECK(verify_object(adk, a.user, a.id, a_ed), "A's signature on its device keys verifies");
    json_t *c = json_pack("{s:{s:{s:s}}}", "one_time_keys", a.user, a.id, "signed_curve25519");
    json_t *cr = request("POST", "/_matrix/client/v3/keys/claim", c, b.token, &st);
    json_t *claimed =
        json_object_get(json_object_get(json_object_get(cr, "one_time_keys"), a.user), a.id);
    json_t *otk =
        json_object_size(claimed) == 1 ? json_object_iter_value(json_object_iter(claimed)) : NULL;
    CHECK(otk && verify_object(otk, a.user, a.id, a_ed),
          "the claimed one-time key is A's, signature verified");

    /* 3. an Olm to-device message B -> A */
    OlmSession *bs = olm_session(malloc(olm_session_size()));
    const char *otk_key = json_string_value(json_object_get(otk, "key"));
    size_t rl = olm_create_outbound_session_random_length(bs);
    void *r = random_bytes(rl);
    size_t made = otk_key && a_curve
                      ? olm_create_outbound_session(bs, b.acct, a_curve, strlen(a_curve), otk_key,
                                                    strlen(otk_key), r, rl)
                      : olm_error();
    free(r);
    CHECK(made != olm_error(), "B's outbound Olm session");
    json_t *secret = json_pack("{s:s}", "text", "Lagebericht: vertraulich");
    json_t *enc = olm_content(&b, &a, bs, "m.test.secret", secret);
    json_t *msg = json_pack("{s:{s:{s:O}}}", "messages", a.user, a.id, enc);
    json_decref(
        request("PUT", "/_matrix/client/v3/sendToDevice/m.room.encrypted/olm1", msg, b.token, &st));
    CHECK(st == 200, "sendToDevice");
    json_t *s1 = sync(&a, a_since);
    json_t *evs = to_device_events(s1);
    CHECK(json_array_size(evs) == 1, "A receives one to-device event");
    json_t *ev = json_array_get(evs, 0);
    CHECK(json_equal(json_object_get(ev, "content"), enc), "the ciphertext arrives untouched");
    CHECK(json_integer_value(json_object_get(json_object_get(s1, "device_one_time_keys_count"),
                                             "signed_curve25519")) == 4,
          "A's one-time key count dropped to 4");
    OlmSession *as = NULL;
    json_t *plain = olm_open(&a, &as, json_object_get(ev, "content"));
    CHECK(plain && json_equal(json_object_get(plain, "content"), secret),
          "A decrypts B's Olm message");
    CHECK(plain && strcmp(json_string_value(json_object_get(plain, "sender")), b.user) == 0,
          "the plaintext names B as sender");
    json_decref(plain);

    /* 4. Megolm: a room, a shared session, an encrypted room message */
    json_t *cb = json_pack("{s:s,s:[s],s:[{s:s,s:s,s:{s:s}}]}", "preset", "private_chat", "invite",
                           a.user, "initial_state", "type", "m.room.encryption", "state_key", "",
                           "content", "algorithm", "m.megolm.v1.aes-sha2");
    json_t *room_r = request("POST", "/_matrix/client/v3/createRoom", cb, b.token, &st);
    const char *room = json_string_value(json_object_get(room_r, "room_id"));
    char *room_e = esc(room ? room : "");
    snprintf(path, sizeof path, "/_matrix/client/v3/rooms/%s/join", room_e);
    json_t *empty = json_object();
    json_decref(request("POST", path, empty, a.token, &st));
    CHECK(room && st == 200, "A joins B's encrypted room");

    OlmOutboundGroupSession *og =
        olm_outbound_group_session(malloc(olm_outbound_group_session_size()));
    rl = olm_init_outbound_group_session_random_length(og);
    r = random_bytes(rl);
    olm_init_outbound_group_session(og, r, rl);
    free(r);
    size_t il = olm_outbound_group_session_id_length(og);
    char *sid = calloc(1, il + 1);
    olm_outbound_group_session_id(og, (uint8_t *)sid, il);
    size_t kl = olm_outbound_group_session_key_length(og);
    char *skey = calloc(1, kl + 1);
    olm_outbound_group_session_key(og, (uint8_t *)skey, kl);
    json_t *room_key =
        json_pack("{s:s,s:s,s:s,s:s}", "algorithm", "m.megolm.v1.aes-sha2", "room_id",
                  room ? room : "", "session_id", sid, "session_key", skey);
    json_t *enc2 = olm_content(&b, &a, bs, "m.room_key", room_key);
    json_t *msg2 = json_pack("{s:{s:{s:O}}}", "messages", a.user, a.id, enc2);
    json_decref(request("PUT", "/_matrix/client/v3/sendToDevice/m.room.encrypted/olm2", msg2,
                        b.token, &st));
    CHECK(st == 200, "the room key goes out");

    json_t *room_plain =
        json_pack("{s:s,s:{s:s,s:s},s:s}", "type", "m.room.message", "content", "msgtype", "m.text",
                  "body", "Treffen um 10 Uhr", "room_id", room ? room : "");
    char *pt = json_dumps(room_plain, JSON_COMPACT);
    size_t gl = olm_group_encrypt_message_length(og, strlen(pt));
    char *gct = calloc(1, gl + 1);
    olm_group_encrypt(og, (uint8_t *)pt, strlen(pt), (uint8_t *)gct, gl);
    json_t *revent =
        json_pack("{s:s,s:s,s:s,s:s,s:s}", "algorithm", "m.megolm.v1.aes-sha2", "ciphertext", gct,
                  "sender_key", ident(&b, "curve25519"), "device_id", b.id, "session_id", sid);
    snprintf(path, sizeof path, "/_matrix/client/v3/rooms/%s/send/m.room.encrypted/mg1", room_e);
    json_decref(request("PUT", path, revent, b.token, &st));
    CHECK(st == 200, "B sends an m.room.encrypted event");

    const char *since1 = json_string_value(json_object_get(s1, "next_batch"));
    json_t *s2 = sync(&a, since1);
    json_t *rk_ev = json_array_get(to_device_events(s2), 0);
    json_t *rk = rk_ev ? olm_open(&a, &as, json_object_get(rk_ev, "content")) : NULL;
    CHECK(rk && strcmp(json_string_value(json_object_get(rk, "type")), "m.room_key") == 0,
          "A decrypts the m.room_key");
    const char *got_key =
        json_string_value(json_object_get(json_object_get(rk, "content"), "session_key"));
    OlmInboundGroupSession *ig =
        olm_inbound_group_session(malloc(olm_inbound_group_session_size()));
    CHECK(got_key && olm_init_inbound_group_session(ig, (const uint8_t *)got_key,
                                                    strlen(got_key)) != olm_error(),
          "A's inbound Megolm session");
    json_t *tl = json_object_get(
        json_object_get(json_object_get(json_object_get(json_object_get(s2, "rooms"), "join"),
                                        room ? room : ""),
                        "timeline"),
        "events");
    json_t *found = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(tl, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "type")), "m.room.encrypted") == 0)
            found = e;
    }
    CHECK(found && json_equal(json_object_get(found, "content"), revent),
          "the encrypted room event arrives untouched");
    const char *ct =
        json_string_value(json_object_get(json_object_get(found, "content"), "ciphertext"));
    json_t *opened = NULL;
    if (ct) {
        char *m = strdup(ct);
        size_t max = olm_group_decrypt_max_plaintext_length(ig, (uint8_t *)m, strlen(m));
        free(m);
        char *out = calloc(1, max + 1);
        uint32_t idx = 0;
        m = strdup(ct);
        size_t n = max == olm_error()
                       ? olm_error()
                       : olm_group_decrypt(ig, (uint8_t *)m, strlen(m), (uint8_t *)out, max, &idx);
        free(m);
        if (n != olm_error())
            opened = json_loadb(out, n, 0, NULL);
        free(out);
    }
    CHECK(opened && json_equal(opened, room_plain), "A decrypts the Megolm room message");

    json_decref(opened);
    json_decref(rk);
    json_decref(s2);
    json_decref(revent);
    free(gct);
    free(pt);
    json_decref(room_plain);
    json_decref(msg2);
    json_decref(enc2);
    json_decref(room_key);
    free(sid);
    free(skey);
    olm_clear_outbound_group_session(og);
    free(og);
    olm_clear_inbound_group_session(ig);
    free(ig);
    free(room_e);
    json_decref(empty);
    json_decref(room_r);
    json_decref(cb);
    if (as) {
        olm_clear_session(as);
        free(as);
    }
    olm_clear_session(bs);
    free(bs);
    json_decref(s1);
    json_decref(msg);
    json_decref(enc);
    json_decref(secret);
    json_decref(cr);
    json_decref(c);
    json_decref(qr);
    json_decref(q);
    json_decref(s0);
    device_free(&a);
    device_free(&b);
    curl_global_cleanup();
    printf("olm_e2e: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
