/* keybackup.h - server-side key backups (Client-Server API "Server-side key backups",
 * /room_keys): a user's backup versions and the encrypted Megolm session keys stored in
 * them. Each call acts for `user_id` on that user's backups only; `version` is the path or
 * query parameter as received (a string; ours are decimal numbers). Calls return a new
 * response object, or NULL with *err filled. */
#ifndef AMTSBOTE_KEYBACKUP_H
#define AMTSBOTE_KEYBACKUP_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define KEYBACKUP_ALGORITHM_V1 "m.megolm_backup.v1.curve25519-aes-sha2"
#define KEYBACKUP_MAX_AUTH_DATA 65536    /* bytes of auth_data as compact JSON */
#define KEYBACKUP_MAX_SESSION_DATA 65536 /* bytes of one session_data as compact JSON */

/* Why a call failed: HTTP status (500: internal error, logged), the spec's errcode and a
 * message. For 403 M_WRONG_ROOM_KEYS_VERSION, current_version holds the current version. */
struct keybackup_error {
    int status;
    const char *errcode;
    char why[256];
    char current_version[24];
};

/* The metadata of a backed-up session that decides which of two keys is kept. */
struct keybackup_meta {
    bool is_verified;
    int64_t first_message_index;
    int64_t forwarded_count;
};

/* Whether an uploaded key `incoming` replaces the `stored` key of the same session (the
 * spec's rules, in order): the verified one is kept; then the lower first_message_index;
 * then the lower forwarded_count. On a full tie the stored key stays. Pure. */
bool keybackup_replaces(const struct keybackup_meta *stored, const struct keybackup_meta *incoming);

/* POST /room_keys/version: body {algorithm, auth_data} -> {version}. */
json_t *keybackup_version_create(const char *user_id, const json_t *body,
                                 struct keybackup_error *err);
/* GET /room_keys/version[/{version}] (version NULL: the current one) -> {algorithm,
 * auth_data, count, etag, version}; 404 M_NOT_FOUND when there is none. */
json_t *keybackup_version_get(const char *user_id, const char *version,
                              struct keybackup_error *err);
/* PUT /room_keys/version/{version}: body {algorithm (must match), auth_data, version? (must
 * match the path)} replaces auth_data -> {}. */
json_t *keybackup_version_update(const char *user_id, const char *version, const json_t *body,
                                 struct keybackup_error *err);
/* DELETE /room_keys/version/{version}, with its keys -> {}; a version deleted before is
 * answered {} again, one that never existed 404. */
json_t *keybackup_version_delete(const char *user_id, const char *version,
                                 struct keybackup_error *err);

/* PUT /room_keys/keys[/{roomId}[/{sessionId}]]?version=: `body` is {rooms}, {sessions} or one
 * KeyBackupData as room_id and session_id are NULL or not. Only the current version takes
 * keys (else 403 M_WRONG_ROOM_KEYS_VERSION; 404 when the user has no backup); a session
 * already stored is replaced only as keybackup_replaces says. -> {etag, count}. */
json_t *keybackup_keys_put(const char *user_id, const char *version, const char *room_id,
                           const char *session_id, const json_t *body, struct keybackup_error *err);
/* GET /room_keys/keys[/{roomId}[/{sessionId}]]?version= -> {rooms}, {sessions} (empty when
 * none) or the KeyBackupData (404 when not stored); 404 for an unknown version. */
json_t *keybackup_keys_get(const char *user_id, const char *version, const char *room_id,
                           const char *session_id, struct keybackup_error *err);
/* DELETE /room_keys/keys[/{roomId}[/{sessionId}]]?version= -> {etag, count}; 404 for an
 * unknown version. */
json_t *keybackup_keys_delete(const char *user_id, const char *version, const char *room_id,
                              const char *session_id, struct keybackup_error *err);

#endif
