/* keybackup.h - SQL for server-side key backups (migration 0005_key_backup.sql): backup
 * versions per user and the backed-up Megolm sessions of each version.
 *
 * Versions are positive integers; the current version is the highest one that exists. Key
 * writes take the version's row lock first (db_keybackup_lock inside a transaction), which
 * orders them, keeps etag and key_count exact and means writers never deadlock. */
#ifndef AMTSBOTE_STORAGE_KEYBACKUP_H
#define AMTSBOTE_STORAGE_KEYBACKUP_H
#include <jansson.h>
#include <stdint.h>

#include "storage/db.h"

/* Create the user's next version (auth_data: JSON text of an object). Its number into
 * *version. 0, or -1 on error. */
int db_keybackup_version_create(struct dbc *c, const char *user_id, const char *algorithm,
                                const char *auth_data, int64_t *version);

/* Version `version` (0: the current one) as a new object {algorithm, auth_data, count, etag,
 * version} with etag and version as strings; JSON null when there is no such version; NULL on
 * error. */
json_t *db_keybackup_version_get(struct dbc *c, const char *user_id, int64_t version);

/* Replace the auth_data of an existing version. 1 when updated, 0 when there is no such
 * version, -1 on error. */
int db_keybackup_version_update(struct dbc *c, const char *user_id, int64_t version,
                                const char *auth_data);

/* Delete a version with its keys. 1 when it is gone (deleted now, or an earlier one that was
 * deleted before), 0 when the user never had it, -1 on error. */
int db_keybackup_version_delete(struct dbc *c, const char *user_id, int64_t version);

/* The state of a version, as db_keybackup_lock reads it. */
struct db_keybackup_state {
    int64_t current; /* the user's current version, 0 when none */
    int64_t etag;    /* of the locked version */
    int64_t count;
};

/* Inside a transaction: lock version `version` against other key writers and read its state.
 * 1 when locked (all of *st set), 0 when there is no such version (only st->current set),
 * -1 on error. */
int db_keybackup_lock(struct dbc *c, const char *user_id, int64_t version,
                      struct db_keybackup_state *st);

/* What is stored for the sessions named in `pairs` (JSON text of an array of
 * {room_id, session_id}) in a version: a new object
 * {room_id: {session_id: {is_verified, first_message_index, forwarded_count}}} holding only
 * the sessions that exist; NULL on error. */
json_t *db_keybackup_sessions_meta(struct dbc *c, const char *user_id, int64_t version,
                                   const char *pairs);

/* Under the version's lock: insert or overwrite the sessions in `rows` (JSON text of an array
 * of {room_id, session_id, first_message_index, forwarded_count, is_verified, session_data},
 * session_data an object), of which `added` are new, bump the version's etag and add `added`
 * to its count. The new etag and count into *st. 0, or -1 on error. */
int db_keybackup_sessions_put(struct dbc *c, const char *user_id, int64_t version, const char *rows,
                              int64_t added, struct db_keybackup_state *st);

/* Under the version's lock: delete its sessions, those of room_id (non-NULL), or the one
 * session (room_id and session_id non-NULL). When any went, the etag is bumped and the count
 * lowered. The etag and count afterwards into *st. 0, or -1 on error. */
int db_keybackup_sessions_delete(struct dbc *c, const char *user_id, int64_t version,
                                 const char *room_id, const char *session_id,
                                 struct db_keybackup_state *st);

/* The sessions of a version, of room_id (non-NULL) or of one session (room_id and session_id
 * non-NULL), as a new object {"rooms": {room_id: {"sessions": {session_id: KeyBackupData}}}}
 * in which rooms without matching sessions do not appear; JSON null when there is no such
 * version; NULL on error. */
json_t *db_keybackup_sessions_get(struct dbc *c, const char *user_id, int64_t version,
                                  const char *room_id, const char *session_id);

#endif
