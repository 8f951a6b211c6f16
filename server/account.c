/* account.c - accounts, passwords, devices, access tokens and profiles (Client-Server API:
 * "Account registration and management", "Login", "Device management", "Profiles").
 *
 * Guarantees:
 *  1. Passwords are stored only as argon2id hashes (libsodium crypto_pwhash_str).
 *  2. Access tokens are 256 random bits, handed to the client once and stored only as their
 *     SHA-256; lookups go by that hash, so the database never holds a usable token.
 *  3. A token belongs to one device; deleting a device (logout, /delete_devices, password
 *     change, deactivation) deletes its tokens in the same statement via the foreign key.
 *  4. Account creation with a registration token completes the token's reserved use in the
 *     same transaction that creates the user.
 *  5. Token lookups are cached in memory for at most TOKEN_CACHE_MS. Every change that can
 *     end a token's validity (logout, device deletion, password change, deactivation, admin
 *     flag, a login that replaces a device's token) bumps a generation after its commit; an
 *     entry remembers the generation read *before* its database lookup, so it can never
 *     outlive a change in this process. A second process would see another's change within
 *     TOKEN_CACHE_MS; a deployment that runs several will shorten or disable it. */
#include "server/account.h"

#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "server/b64.h"
#include "server/clock.h"
#include "server/e2e.h"
#include "server/ids.h"
#include "server/log.h"
#include "storage/devices.h"
#include "storage/keys.h"
#include "storage/registration.h"
#include "storage/users.h"

#define TOKEN_PREFIX "amt_"
#define DEVICE_ID_LEN 10
#define LAST_SEEN_INTERVAL_MS 60000 /* write a device's last use at most once a minute */
#define TOKEN_CACHE_MS 10000
#define TOKEN_CACHE_SLOTS 4096

/* The token cache: direct-mapped by the token hash. */
struct token_slot {
    uint8_t hash[32];
    char *user_id, *device_id;
    int64_t token_id, expires;
    uint64_t gen;
    bool admin, used;
    bool locked, suspended, shadow_banned;
};
static struct token_slot token_cache[TOKEN_CACHE_SLOTS];
static pthread_mutex_t token_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t token_gen = 1;

static uint64_t tokens_generation(void)
{
    pthread_mutex_lock(&token_mu);
    uint64_t g = token_gen;
    pthread_mutex_unlock(&token_mu);
    return g;
}

/* Something may have ended tokens: forget every cached lookup. */
static void tokens_changed(void)
{
    pthread_mutex_lock(&token_mu);
    token_gen++;
    pthread_mutex_unlock(&token_mu);
}

static size_t token_slot_of(const uint8_t hash[32])
{
    return ((size_t)hash[0] | (size_t)hash[1] << 8) % TOKEN_CACHE_SLOTS;
}

/* 1 and *out filled (strings from the request arena) on a fresh hit (2 when the account is
 * locked), else 0. */
static int token_cache_get(struct http_req *req, const uint8_t hash[32], struct http_user *out)
{
    int hit = 0;
    pthread_mutex_lock(&token_mu);
    struct token_slot *t = &token_cache[token_slot_of(hash)];
    if (t->used && t->gen == token_gen && t->expires > clock_mono_ms() &&
        sodium_memcmp(t->hash, hash, 32) == 0) {
        out->user_id = http_strdup(req, t->user_id);
        out->device_id = t->device_id ? http_strdup(req, t->device_id) : NULL;
        out->token_id = t->token_id;
        out->is_admin = t->admin;
        out->suspended = t->suspended;
        out->shadow_banned = t->shadow_banned;
        hit = t->locked ? 2 : 1;
    }
    pthread_mutex_unlock(&token_mu);
    return hit;
}

static void token_cache_put(const uint8_t hash[32], const struct http_user *u, bool locked,
                            uint64_t gen)
{
    char *uid = strdup(u->user_id), *did = u->device_id ? strdup(u->device_id) : NULL;
    if (!uid || (u->device_id && !did)) {
        free(uid);
        free(did);
        return;
    }
    pthread_mutex_lock(&token_mu);
    struct token_slot *t = &token_cache[token_slot_of(hash)];
    free(t->user_id);
    free(t->device_id);
    memcpy(t->hash, hash, 32);
    t->user_id = uid;
    t->device_id = did;
    t->token_id = u->token_id;
    t->admin = u->is_admin;
    t->locked = locked;
    t->suspended = u->suspended;
    t->shadow_banned = u->shadow_banned;
    t->gen = gen;
    t->expires = clock_mono_ms() + TOKEN_CACHE_MS;
    t->used = true;
    pthread_mutex_unlock(&token_mu);
}

void account_cache_free(void)
{
    pthread_mutex_lock(&token_mu);
    for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++) {
        free(token_cache[i].user_id);
        free(token_cache[i].device_id);
        memset(&token_cache[i], 0, sizeof token_cache[i]);
    }
    pthread_mutex_unlock(&token_mu);
}

void account_login_clear(struct account_login *l)
{
    if (!l)
        return;
    free(l->user_id);
    free(l->device_id);
    if (l->access_token)
        sodium_memzero(l->access_token, strlen(l->access_token));
    free(l->access_token);
    memset(l, 0, sizeof *l);
}

char *account_hash_password(const char *password)
{
    char *out = malloc(crypto_pwhash_STRBYTES);
    if (!out)
        return NULL;
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        log_error("password hashing failed (out of memory?)");
        free(out);
        return NULL;
    }
    return out;
}

int account_check_password(const char *hash, const char *password)
{
    char buf[crypto_pwhash_STRBYTES] = {0}; /* libsodium reads a full STRBYTES buffer */
    if (!hash || !password || strlen(hash) >= sizeof buf)
        return 0;
    memcpy(buf, hash, strlen(hash));
    return crypto_pwhash_str_verify(buf, password, strlen(password)) == 0;
}

static void token_hash(const char *token, uint8_t out[32])
{
    crypto_hash_sha256(out, (const unsigned char *)token, strlen(token));
}

/* Mint a token for user/device and store its hash. Returns a malloc'd token or NULL. */
static char *issue_token(struct dbc *c, const char *user_id, const char *device_id)
{
    uint8_t raw[32], hash[32];
    int64_t id;
    randombytes_buf(raw, sizeof raw);
    char *b = b64_encode_urlsafe(raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    if (!b)
        return NULL;
    size_t n = strlen(TOKEN_PREFIX) + strlen(b) + 1;
    char *token = malloc(n);
    if (token)
        snprintf(token, n, TOKEN_PREFIX "%s", b);
    sodium_memzero(b, strlen(b));
    free(b);
    if (!token)
        return NULL;
    token_hash(token, hash);
    if (db_tokens_insert(c, hash, user_id, device_id, clock_now_ms(), &id) < 0) {
        free(token);
        return NULL;
    }
    return token;
}

/* Create or reuse the device and issue a token for it, inside the caller's transaction.
 * Reusing a device_id replaces that device's earlier tokens (spec: "Relationship between
 * access tokens and devices"). 1 when the device is new (the caller records a device-list
 * change after committing: a device without keys is still a device), 0, or -1. */
static int login_device(struct dbc *c, const char *user_id, const char *device_id,
                        const char *device_name, struct account_login *out)
{
    char fresh[DEVICE_ID_LEN + 1];
    if (!device_id) {
        ids_random_upper(fresh, DEVICE_ID_LEN);
        device_id = fresh;
    }
    int created = db_devices_upsert(c, user_id, device_id, device_name, clock_now_ms());
    if (created < 0 || db_tokens_delete_device(c, user_id, device_id) < 0)
        return -1;
    out->access_token = issue_token(c, user_id, device_id);
    out->device_id = strdup(device_id);
    return out->access_token && out->device_id ? created : -1;
}

/* Whether this process should record a device's use now: once per LAST_SEEN_INTERVAL_MS per
 * token, remembered in a small direct-mapped table (a cache: losing it only costs one more
 * UPDATE, which the SQL makes a no-op when recent anyway). */
static bool touch_due(int64_t token_id)
{
    static struct {
        int64_t token_id, at;
    } recent[1024];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    int64_t now = clock_mono_ms();
    size_t slot = (size_t)token_id % (sizeof recent / sizeof recent[0]);
    bool due;
    pthread_mutex_lock(&lock);
    due = recent[slot].token_id != token_id || now - recent[slot].at >= LAST_SEEN_INTERVAL_MS;
    if (due) {
        recent[slot].token_id = token_id;
        recent[slot].at = now;
    }
    pthread_mutex_unlock(&lock);
    return due;
}

void account_flags_changed(void)
{
    tokens_changed();
}

/* A locked account (Client-Server API "Account locking") answers 401 M_USER_LOCKED with
 * soft_logout on everything but /logout and /logout/all; the token stays valid. Returns the
 * authenticator's answer: 1 to go on, -2 after answering. */
static int locked_answer(struct http_req *req)
{
    const char *pat = http_route_pattern(req);
    size_t n = pat ? strlen(pat) : 0;
    if ((n >= 7 && strcmp(pat + n - 7, "/logout") == 0) ||
        (n >= 11 && strcmp(pat + n - 11, "/logout/all") == 0))
        return 1;
    http_reply_error_extra(req, 401, "M_USER_LOCKED", json_pack("{s:b}", "soft_logout", 1),
                           "This account has been locked");
    return -2;
}

int account_authenticate(struct http_req *req, const char *token, struct http_user *out)
{
    uint8_t hash[32];
    struct db_token_owner o;
    int rc;

    token_hash(token, hash);
    int hit = token_cache_get(req, hash, out);
    if (hit == 2)
        return locked_answer(req);
    if (hit) {
        if (out->device_id && touch_due(out->token_id)) { /* last seen, once a minute */
            struct dbc *c = db_get();
            if (c)
                db_devices_touch(c, out->user_id, out->device_id, http_client_ip(req),
                                 http_header(req, "User-Agent"), clock_now_ms(),
                                 LAST_SEEN_INTERVAL_MS);
            db_put(c);
        }
        return 1;
    }
    uint64_t gen = tokens_generation(); /* before the lookup: see invariant 5 */
    struct dbc *c = db_get();
    if (!c)
        return -1;
    rc = db_tokens_lookup(c, hash, &o);
    if (rc == 1 && o.deactivated) {
        rc = 0;
        db_token_owner_clear(&o);
    }
    if (rc == 1) {
        out->user_id = http_strdup(req, o.user_id);
        out->device_id = http_strdup(req, o.device_id);
        out->token_id = o.token_id;
        out->is_admin = o.admin;
        out->suspended = o.suspended;
        out->shadow_banned = o.shadow_banned;
        if (o.device_id && touch_due(o.token_id)) {
            const char *ua = http_header(req, "User-Agent");
            db_devices_touch(c, o.user_id, o.device_id, http_client_ip(req), ua, clock_now_ms(),
                             LAST_SEEN_INTERVAL_MS);
        }
        token_cache_put(hash, out, o.locked, gen);
        if (o.locked)
            rc = -3;
        db_token_owner_clear(&o);
    }
    db_put(c);
    return rc == -3 ? locked_answer(req) : rc;
}

int account_available(const char *user_id)
{
    struct dbc *c = db_get();
    if (!c)
        return -1;
    int rc = db_users_exists_ci(c, user_id);
    db_put(c);
    return rc < 0 ? -1 : !rc;
}

enum account_rc account_register(const char *user_id, const char *password, bool admin,
                                 const char *displayname, const char *reg_token, bool login,
                                 const char *device_id, const char *device_name,
                                 struct account_login *out)
{
    enum account_rc rc = ACCOUNT_ERR;
    char *hash = NULL;
    struct dbc *c = NULL;

    memset(out, 0, sizeof *out);
    if (password && !(hash = account_hash_password(password)))
        return ACCOUNT_ERR;
    if (!(c = db_get()))
        goto out;
    if (db_begin(c) < 0)
        goto out;
    int exists = db_users_exists_ci(c, user_id);
    if (exists != 0) {
        rc = exists > 0 ? ACCOUNT_EXISTS : ACCOUNT_ERR;
        goto out;
    }
    int ins = db_users_insert(c, user_id, hash, admin, displayname, clock_now_ms());
    if (ins != 0) {
        rc = ins > 0 ? ACCOUNT_EXISTS : ACCOUNT_ERR;
        goto out;
    }
    if (reg_token && db_regtokens_complete(c, reg_token) < 0)
        goto out;
    out->user_id = strdup(user_id);
    if (!out->user_id)
        goto out;
    if (login && login_device(c, user_id, device_id, device_name, out) < 0)
        goto out;
    if (db_commit(c) < 0)
        goto out;
    rc = ACCOUNT_OK;
out:
    if (rc != ACCOUNT_OK) {
        account_login_clear(out);
        if (c && reg_token) { /* the reserved use did not become an account: give it back */
            db_rollback(c);
            db_regtokens_release(c, reg_token);
        }
    }
    db_put(c);
    if (hash) {
        sodium_memzero(hash, strlen(hash));
        free(hash);
    }
    tokens_changed();
    return rc;
}

enum account_rc account_resolve_user(const char *given, const char *server_name, char **out)
{
    struct db_user u;
    char *uid;
    size_t n;

    *out = NULL;
    if (given[0] == '@') {
        uid = strdup(given);
    } else {
        n = strlen(given) + strlen(server_name) + 3;
        uid = malloc(n);
        if (uid)
            snprintf(uid, n, "@%s:%s", given, server_name);
    }
    if (!uid)
        return ACCOUNT_ERR;
    struct dbc *c = db_get();
    if (!c) {
        free(uid);
        return ACCOUNT_ERR;
    }
    int rc = db_users_get(c, uid, &u);
    if (rc == 0)
        rc = db_users_get_ci(c, uid, &u);
    db_put(c);
    free(uid);
    if (rc < 0)
        return ACCOUNT_ERR;
    if (rc == 0)
        return ACCOUNT_NOT_FOUND;
    *out = u.user_id;
    u.user_id = NULL;
    db_user_clear(&u);
    return ACCOUNT_OK;
}

/* Check a user's password with a connection already held. */
static enum account_rc verify_password(struct dbc *c, const char *user_id, const char *password)
{
    struct db_user u;
    int rc = db_users_get(c, user_id, &u);
    if (rc < 0)
        return ACCOUNT_ERR;
    /* Spend the same time as a real check so that timing does not reveal accounts. */
    static const char dummy[] = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"
                                "9aQNB2wxbJOFGkpq5ocH6Xz5jV9aF2ZGi36bd7IjwXU";
    if (rc == 0) {
        account_check_password(dummy, password);
        return ACCOUNT_FORBIDDEN;
    }
    /* The password first: only who knows it learns that the account is deactivated (a
     * deactivation keeps the hash; accounts deactivated before that have none and answer as
     * a wrong password does). */
    enum account_rc out = ACCOUNT_FORBIDDEN;
    if (!u.password_hash)
        account_check_password(dummy, password);
    else if (account_check_password(u.password_hash, password))
        out = u.deactivated ? ACCOUNT_DEACTIVATED : u.locked ? ACCOUNT_LOCKED : ACCOUNT_OK;
    db_user_clear(&u);
    return out;
}

enum account_rc account_verify_password(const char *user_id, const char *password)
{
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    enum account_rc rc = verify_password(c, user_id, password);
    db_put(c);
    return rc;
}

enum account_rc account_login_password(const char *user_id, const char *password,
                                       const char *device_id, const char *device_name,
                                       struct account_login *out)
{
    memset(out, 0, sizeof *out);
    int created = -1;
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    enum account_rc rc = verify_password(c, user_id, password);
    if (rc != ACCOUNT_OK)
        goto out;
    rc = ACCOUNT_ERR;
    if (db_begin(c) < 0)
        goto out;
    out->user_id = strdup(user_id);
    created = out->user_id ? login_device(c, user_id, device_id, device_name, out) : -1;
    if (created < 0 || db_commit(c) < 0)
        goto out;
    rc = ACCOUNT_OK;
out:
    if (rc != ACCOUNT_OK)
        account_login_clear(out);
    db_put(c);
    if (rc == ACCOUNT_OK && created > 0)
        e2e_device_list_touch(user_id);
    tokens_changed();
    return rc;
}

enum account_rc account_logout(const struct http_user *who)
{
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    int rc;
    if (who->device_id)
        rc = db_devices_delete(c, who->user_id, who->device_id) < 0 ? -1 : 0;
    else
        rc = db_tokens_delete(c, who->token_id);
    db_put(c);
    tokens_changed();
    if (rc == 0 && who->device_id)
        e2e_device_list_touch(who->user_id);
    return rc < 0 ? ACCOUNT_ERR : ACCOUNT_OK;
}

enum account_rc account_logout_all(const char *user_id)
{
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    long n = db_devices_delete_all(c, user_id, NULL, 0);
    db_put(c);
    tokens_changed();
    if (n > 0)
        e2e_device_list_touch(user_id);
    return n < 0 ? ACCOUNT_ERR : ACCOUNT_OK;
}

enum account_rc account_set_password(const struct http_user *who, const char *password,
                                     bool logout_devices)
{
    enum account_rc rc = ACCOUNT_ERR;
    char *hash = account_hash_password(password);
    struct dbc *c = NULL;
    if (!hash || !(c = db_get()))
        goto out;
    if (db_begin(c) < 0)
        goto out;
    int n = db_users_set_password(c, who->user_id, hash);
    if (n <= 0) {
        rc = n == 0 ? ACCOUNT_NOT_FOUND : ACCOUNT_ERR;
        goto out;
    }
    if (logout_devices &&
        db_devices_delete_all(c, who->user_id, who->device_id ? who->device_id : "",
                              who->token_id) < 0)
        goto out;
    if (db_commit(c) < 0)
        goto out;
    rc = ACCOUNT_OK;
out:
    db_put(c);
    if (rc == ACCOUNT_OK && logout_devices)
        e2e_device_list_touch(who->user_id);
    if (hash) {
        sodium_memzero(hash, strlen(hash));
        free(hash);
    }
    tokens_changed();
    return rc;
}

enum account_rc account_deactivate(const char *user_id, bool erase)
{
    enum account_rc rc = ACCOUNT_ERR;
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    if (db_begin(c) < 0)
        goto out;
    int n = db_users_deactivate(c, user_id, erase);
    if (n <= 0) {
        rc = n == 0 ? ACCOUNT_NOT_FOUND : ACCOUNT_ERR;
        goto out;
    }
    if (db_devices_delete_all(c, user_id, NULL, 0) < 0 || db_keys_forget_user(c, user_id) < 0 ||
        db_commit(c) < 0)
        goto out;
    rc = ACCOUNT_OK;
out:
    db_put(c);
    if (rc == ACCOUNT_OK)
        e2e_device_list_touch(user_id);
    tokens_changed();
    return rc;
}

enum account_rc account_set_admin(const char *user_id, bool admin)
{
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    int n = db_users_set_admin(c, user_id, admin);
    db_put(c);
    tokens_changed();
    return n < 0 ? ACCOUNT_ERR : n == 0 ? ACCOUNT_NOT_FOUND : ACCOUNT_OK;
}

json_t *account_whois(const char *user_id)
{
    struct dbc *c = db_get();
    json_t *d = c ? db_devices_whois(c, user_id) : NULL;
    db_put(c);
    return d ? json_pack("{s:s,s:o}", "user_id", user_id, "devices", d) : NULL;
}

json_t *account_devices(const char *user_id)
{
    struct dbc *c = db_get();
    if (!c)
        return NULL;
    json_t *list = db_devices_list(c, user_id);
    db_put(c);
    return list;
}

enum account_rc account_device(const char *user_id, const char *device_id, json_t **out)
{
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    int n = db_devices_get(c, user_id, device_id, out);
    db_put(c);
    return n < 0 ? ACCOUNT_ERR : n == 0 ? ACCOUNT_NOT_FOUND : ACCOUNT_OK;
}

enum account_rc account_device_rename(const char *user_id, const char *device_id, const char *name)
{
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    int n = db_devices_set_name(c, user_id, device_id, name);
    db_put(c);
    if (n > 0)
        e2e_device_list_touch(user_id);
    return n < 0 ? ACCOUNT_ERR : n == 0 ? ACCOUNT_NOT_FOUND : ACCOUNT_OK;
}

enum account_rc account_devices_delete(const char *user_id, json_t *device_ids)
{
    enum account_rc rc = ACCOUNT_ERR;
    size_t i;
    json_t *v;
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    if (db_begin(c) < 0)
        goto out;
    json_array_foreach(device_ids, i, v)
    {
        if (db_devices_delete(c, user_id, json_string_value(v)) < 0)
            goto out;
    }
    if (db_commit(c) < 0)
        goto out;
    rc = ACCOUNT_OK;
out:
    db_put(c);
    if (rc == ACCOUNT_OK && json_array_size(device_ids))
        e2e_device_list_touch(user_id);
    tokens_changed();
    return rc;
}

enum account_rc account_profile(const char *user_id, json_t **out)
{
    struct db_user u;
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    int n = db_users_get(c, user_id, &u);
    db_put(c);
    if (n <= 0)
        return n < 0 ? ACCOUNT_ERR : ACCOUNT_NOT_FOUND;
    *out = json_object();
    if (u.displayname)
        json_object_set_new(*out, "displayname", json_string(u.displayname));
    if (u.avatar_url)
        json_object_set_new(*out, "avatar_url", json_string(u.avatar_url));
    db_user_clear(&u);
    return ACCOUNT_OK;
}

enum account_rc account_profile_set(const char *user_id, const char *field, const char *value)
{
    struct dbc *c = db_get();
    if (!c)
        return ACCOUNT_ERR;
    int n = db_users_set_profile(c, user_id, field, value);
    db_put(c);
    return n < 0 ? ACCOUNT_ERR : n == 0 ? ACCOUNT_NOT_FOUND : ACCOUNT_OK;
}
