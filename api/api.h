/* api.h - the Client-Server API handlers (one file per area of the spec) and their table. */
#ifndef AMTSBOTE_API_H
#define AMTSBOTE_API_H
#include "server/http.h"

extern const struct http_route api_routes[];
/* GET /health, for every listener (api/ops.c). */
extern const struct http_route api_health_routes[];
/* GET /_synapse/metrics (and /metrics), for listeners with the `metrics` resource. */
extern const struct http_route api_metrics_routes[];

/* Helpers shared by the handlers (api/common.c). */
/* Field `key` of the body: the string, or NULL when absent. When present but not a string,
 * answers 400 M_BAD_JSON and sets *bad. */
const char *api_opt_string(struct http_req *req, json_t *obj, const char *key, bool *bad);
/* Query parameter `name` holding a token (from, to, at, since, next_batch): NULL when absent
 * or empty, as clients send `from=` to mean "from the start" (Quaternion does). */
const char *api_token_query(struct http_req *req, const char *name);

/* Park req and run work(arg) on a thread of its own (api/parked.c): for calls that wait on
 * other servers. finish(req, arg) then answers on an HTTP thread; free_arg(arg) (may be NULL)
 * runs once the request has ended, whether finish ran or not (server stopping). Takes arg. */
void api_run_parked(struct http_req *req, void (*work)(void *arg),
                    void (*finish)(struct http_req *req, void *arg), void (*free_arg)(void *arg),
                    void *arg);
/* Shutdown, after outbound_stop and http_stop: wait (at most timeout_ms) for the parked
 * calls' threads to end, so none touches the database after it closes. */
void api_parked_drain(int timeout_ms);
/* The boolean, or `dflt` when absent; wrong type answers M_BAD_JSON and sets *bad. */
bool api_opt_bool(struct http_req *req, json_t *obj, const char *key, bool dflt, bool *bad);
/* Answer 429 M_LIMIT_EXCEEDED with retry_after_ms. */
void api_reply_limited(struct http_req *req, int64_t retry_after_ms);
/* Take one action of the authenticated user from rc_message (sending messages, state events,
 * redactions, as Synapse's rc_message). False when over the limit: answered with 429. */
bool api_message_allowed(struct http_req *req);

/* discovery.c */
void api_versions(struct http_req *req);
void api_wellknown_client(struct http_req *req);
void api_wellknown_server(struct http_req *req);
void api_capabilities(struct http_req *req);
/* register.c */
void api_register(struct http_req *req);
void api_register_available(struct http_req *req);
void api_regtoken_validity(struct http_req *req);
/* login.c */
void api_login_flows(struct http_req *req);
void api_login(struct http_req *req);
void api_logout(struct http_req *req);
void api_logout_all(struct http_req *req);
/* account.c */
void api_whoami(struct http_req *req);
void api_password(struct http_req *req);
void api_deactivate(struct http_req *req);
/* devices.c */
void api_devices(struct http_req *req);
void api_device_get(struct http_req *req);
void api_device_put(struct http_req *req);
void api_device_delete(struct http_req *req);
void api_delete_devices(struct http_req *req);
/* profile.c */
void api_profile(struct http_req *req);
void api_profile_field_get(struct http_req *req);
void api_profile_field_put(struct http_req *req);
/* rooms.c: shared by the room handlers */
/* Answer a failed room engine call (its enum room_rc as int) with the spec's error. */
void api_reply_room_error(struct http_req *req, int rc, const char *why);
/* Answer 200 with `out` (stolen) when rc is ROOM_OK, else the room error. */
void api_reply_room(struct http_req *req, int rc, json_t *out, const char *why);
bool api_valid_room_id(const char *id);
/* Path parameter 0 as a room ID; answers 400 and returns NULL when malformed. */
const char *api_room_param(struct http_req *req);
/* Change the membership of `target` in the room as the requesting user (body: reason); m
 * "kick" is a leave of a user who is in the room (room_kick). */
/* Calls that wait on other servers, run off the HTTP threads (api/roomfed.c); each answers
 * the request. Join or knock (`m`) into target (room ID or alias) through `servers` (stolen,
 * may be NULL), answering {room_id}; leave room_id (or reject its invite) answering {}; invite
 * a user of another server answering {}; createRoom with `body` (copied) answering {room_id}. */
void api_remote_join(struct http_req *req, const char *target, const char *m, const char *reason,
                     json_t *servers);
void api_remote_leave(struct http_req *req, const char *room_id, const char *reason);
void api_remote_invite(struct http_req *req, const char *room_id, const char *invitee,
                       const char *reason);
void api_remote_create(struct http_req *req, json_t *body);
/* GET /messages backwards from `from` (may be NULL) once room_backfill has asked the room's
 * other servers for older events; takes filter (may be NULL). */
void api_remote_messages(struct http_req *req, const char *room_id, const char *from, int limit,
                         json_t *filter);
/* GET /directory/room/{roomAlias} of another server's alias: {room_id, servers}. */
void api_remote_alias(struct http_req *req, const char *alias);

/* POST /join/{roomIdOrAlias}, /rooms/{roomId}/join and /knock/{roomIdOrAlias}: resolve an
 * alias (another server's through /query/directory), take the via and server_name query
 * parameters, and join or knock (`m`) through room_join_remote; answers {room_id}. */
void api_join_target(struct http_req *req, const char *target, const char *m);
void api_membership(struct http_req *req, const char *room_id, const char *target,
                    const char *membership, bool reply_room);
/* rooms.c */
void api_create_room(struct http_req *req);
void api_send(struct http_req *req);
void api_state_put(struct http_req *req);
void api_state_get(struct http_req *req);
void api_state_all(struct http_req *req);
void api_event_get(struct http_req *req);
void api_join_room_id(struct http_req *req);
void api_join(struct http_req *req);
void api_invite(struct http_req *req);
void api_kick(struct http_req *req);
void api_ban(struct http_req *req);
void api_unban(struct http_req *req);
void api_leave(struct http_req *req);
void api_forget(struct http_req *req);
void api_joined_rooms(struct http_req *req);
void api_joined_members(struct http_req *req);
void api_members(struct http_req *req);
void api_messages(struct http_req *req);
void api_redact(struct http_req *req);
void api_alias_put(struct http_req *req);
void api_alias_get(struct http_req *req);
void api_alias_delete(struct http_req *req);
void api_room_aliases(struct http_req *req);
/* directory.c */
void api_public_rooms_get(struct http_req *req);
void api_public_rooms_post(struct http_req *req);
void api_directory_list_get(struct http_req *req);
void api_directory_list_put(struct http_req *req);
/* roomnav.c */
void api_knock(struct http_req *req);
void api_context(struct http_req *req);
void api_relations(struct http_req *req);
void api_timestamp_to_event(struct http_req *req);
void api_room_summary(struct http_req *req);
void api_hierarchy(struct http_req *req);
void api_threads(struct http_req *req);
void api_report_event(struct http_req *req);
void api_report_room(struct http_req *req);
void api_upgrade(struct http_req *req);
/* sync.c */
void api_sync(struct http_req *req);
void api_slidingsync(struct http_req *req);
/* What GET /sync and sliding sync share (api/sync.c): the `timeout` (ms, at most 90 s) and
 * `set_presence` query parameters; false when one is malformed (answered with 400). */
bool api_sync_params(struct http_req *req, int64_t *timeout, const char **set_presence);
/* Mark the user as set_presence says ("online" when NULL; not for "offline"), when presence
 * is enabled. */
void api_sync_presence(struct http_req *req, const char *user_id, const char *set_presence);
/* userdata.c */
/* Parse and check a Filter (JSON text); new object, or NULL with the reason in why. */
json_t *api_filter_parse(const char *text, size_t len, char *why, size_t n);
void api_filter_post(struct http_req *req);
void api_filter_get(struct http_req *req);
void api_account_data_put(struct http_req *req);
void api_account_data_get(struct http_req *req);
void api_room_account_data_put(struct http_req *req);
void api_room_account_data_get(struct http_req *req);
void api_tags_get(struct http_req *req);
void api_tag_put(struct http_req *req);
void api_tag_delete(struct http_req *req);
void api_receipt(struct http_req *req);
void api_read_markers(struct http_req *req);
void api_typing(struct http_req *req);
void api_presence_put(struct http_req *req);
void api_presence_get(struct http_req *req);
/* voip.c, thirdparty.c, openid.c, and account.c's third-party identifiers */
void api_turn_server(struct http_req *req);
void api_user_directory_search(struct http_req *req);
void api_search(struct http_req *req);
void api_thirdparty_protocols(struct http_req *req);
void api_thirdparty_protocol(struct http_req *req);
void api_thirdparty_lookup(struct http_req *req);
void api_openid_request_token(struct http_req *req);
void api_threepids(struct http_req *req);
void api_whois(struct http_req *req);
void api_threepid_denied(struct http_req *req);
void api_threepid_remove(struct http_req *req);
/* media.c */
void api_media_upload(struct http_req *req);
void api_media_upload_to(struct http_req *req);
void api_media_create(struct http_req *req);
void api_media_config(struct http_req *req);
void api_media_download(struct http_req *req);
void api_media_thumbnail(struct http_req *req);
void api_media_legacy_read(struct http_req *req);
void api_media_preview_url(struct http_req *req);
void api_media_scan_encrypted(struct http_req *req);
/* pushers.c */
void api_pushers_get(struct http_req *req);
void api_pushers_set(struct http_req *req);
void api_notifications(struct http_req *req);
/* pushrules.c */
void api_pushrules_all(struct http_req *req);
void api_pushrules_global(struct http_req *req);
void api_pushrule_get(struct http_req *req);
void api_pushrule_put(struct http_req *req);
void api_pushrule_delete(struct http_req *req);
void api_pushrule_enabled_get(struct http_req *req);
void api_pushrule_enabled_put(struct http_req *req);
void api_pushrule_actions_get(struct http_req *req);
void api_pushrule_actions_put(struct http_req *req);
/* keys.c */
void api_keys_upload(struct http_req *req);
void api_keys_query(struct http_req *req);
void api_keys_claim(struct http_req *req);
void api_keys_changes(struct http_req *req);
void api_device_signing_upload(struct http_req *req);
void api_signatures_upload(struct http_req *req);
void api_send_to_device(struct http_req *req);
void api_dehydrated_put(struct http_req *req);
void api_dehydrated_get(struct http_req *req);
void api_dehydrated_delete(struct http_req *req);
void api_dehydrated_events(struct http_req *req);
/* keybackup.c */
void api_keybackup_version_create(struct http_req *req);
void api_keybackup_version_current(struct http_req *req);
void api_keybackup_version_get(struct http_req *req);
void api_keybackup_version_put(struct http_req *req);
void api_keybackup_version_delete(struct http_req *req);
void api_keybackup_keys_put(struct http_req *req);
void api_keybackup_keys_get(struct http_req *req);
void api_keybackup_keys_delete(struct http_req *req);
/* admin.c (Synapse-compatible admin API) */
void api_admin_register_nonce(struct http_req *req);
void api_admin_register(struct http_req *req);
void api_admin_regtokens_list(struct http_req *req);
void api_admin_regtokens_new(struct http_req *req);
void api_admin_regtoken_get(struct http_req *req);
void api_admin_regtoken_put(struct http_req *req);
void api_admin_regtoken_delete(struct http_req *req);
void api_admin_server_version(struct http_req *req);
/* admin_rooms.c, admin_media.c (Synapse's rooms, reports, notices and media admin API) */
/* False (answered 403 M_FORBIDDEN) unless the requester is a server admin. */
bool api_admin_only(struct http_req *req);
/* Synapse's offset paging: from (default 0) and limit (default 100), non-negative integers.
 * 0, or -1 answered 400 M_INVALID_PARAM. */
int api_admin_paging(struct http_req *req, int64_t *from, int64_t *limit);
/* The dir parameter ("f" or "b", dflt when absent). 0, or -1 answered 400. */
int api_admin_dir(struct http_req *req, const char *dflt, bool *backwards);
/* A query parameter that must be "true" or "false" (Synapse's parse_boolean): 1 / 0, dflt
 * when absent, -2 answered 400 M_INVALID_PARAM. */
int api_admin_query_bool(struct http_req *req, const char *name, int dflt);
void api_admin_rooms_list(struct http_req *req);
void api_admin_room_get(struct http_req *req);
void api_admin_room_members(struct http_req *req);
void api_admin_room_state(struct http_req *req);
void api_admin_room_messages(struct http_req *req);
void api_admin_room_extremities(struct http_req *req);
void api_admin_room_block_get(struct http_req *req);
void api_admin_room_block_put(struct http_req *req);
void api_admin_room_delete(struct http_req *req);
void api_admin_room_delete_v1(struct http_req *req);
void api_admin_room_delete_status(struct http_req *req);
void api_admin_delete_status(struct http_req *req);
void api_admin_reports(struct http_req *req);
void api_admin_report_get(struct http_req *req);
void api_admin_report_delete(struct http_req *req);
void api_admin_server_notice(struct http_req *req);
void api_admin_server_notice_txn(struct http_req *req);
void api_admin_user_media(struct http_req *req);
void api_admin_user_media_delete(struct http_req *req);
void api_admin_user_media_quarantine(struct http_req *req);
void api_admin_room_media(struct http_req *req);
void api_admin_room_media_quarantine(struct http_req *req);
void api_admin_media_quarantine(struct http_req *req);
void api_admin_media_unquarantine(struct http_req *req);
void api_admin_media_protect(struct http_req *req);
void api_admin_media_unprotect(struct http_req *req);
void api_admin_media_delete(struct http_req *req);
void api_admin_media_delete_older(struct http_req *req);
void api_admin_media_delete_older_at(struct http_req *req);
void api_admin_media_info(struct http_req *req);

/* --- user admin API (api/admin_users.c; Synapse's paths; api/moderation.c) --- */
void api_admin_users_list(struct http_req *req);
void api_admin_user_get(struct http_req *req);
void api_admin_user_put(struct http_req *req);
void api_admin_user_admin_get(struct http_req *req);
void api_admin_user_admin_put(struct http_req *req);
void api_admin_deactivate(struct http_req *req);
void api_admin_reset_password(struct http_req *req);
void api_admin_user_joined_rooms(struct http_req *req);
void api_admin_user_devices(struct http_req *req);
void api_admin_user_memberships(struct http_req *req);
void api_admin_user_pushers(struct http_req *req);
void api_admin_user_device_get(struct http_req *req);
void api_admin_user_device_create(struct http_req *req);
void api_admin_user_device_put(struct http_req *req);
void api_admin_user_device_delete(struct http_req *req);
void api_admin_user_delete_devices(struct http_req *req);
void api_admin_shadow_ban(struct http_req *req);
void api_admin_suspend(struct http_req *req);
/* GET/PUT /_matrix/client/v1/admin/suspend|lock/{userId} (spec v1.18) */
void api_admin_moderation_get(struct http_req *req);
void api_admin_moderation_put(struct http_req *req);
/* The http_gate: suspended accounts refused, shadow-banned ones answered without effect. */
bool api_moderation_gate(struct http_req *req);

#endif
