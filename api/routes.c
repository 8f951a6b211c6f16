/* routes.c - the Client-Server route table. Paths are written once under /_matrix/client/v3;
 * the router also answers the r0 aliases old clients use. Anything not listed answers 404
 * M_UNRECOGNIZED (a listed path with another method: 405 M_UNRECOGNIZED). */
#include "api/api.h"

#define CS "/_matrix/client/v3"
#define V1 "/_matrix/client/v1"
#define ADMIN "/_synapse/admin/v1"
#define R HTTP_AUTH_REQUIRED
#define N HTTP_AUTH_NONE
#define J HTTP_BODY_JSON

/* method, pattern, handler, auth, flags */
const struct http_route api_routes[] = {
    {"GET", "/_matrix/client/versions", api_versions, N, 0},
    {"GET", "/.well-known/matrix/client", api_wellknown_client, N, 0},
    {"GET", "/.well-known/matrix/server", api_wellknown_server, N, 0},
    {"GET", CS "/capabilities", api_capabilities, R, 0},

    {"POST", CS "/register", api_register, N, J},
    {"GET", CS "/register/available", api_register_available, N, 0},
    {"GET", "/_matrix/client/v1/register/m.login.registration_token/validity",
     api_regtoken_validity, N, 0},

    {"GET", CS "/login", api_login_flows, N, 0},
    {"POST", CS "/login", api_login, N, J},
    {"POST", CS "/logout", api_logout, R, J},
    {"POST", CS "/logout/all", api_logout_all, R, J},

    {"GET", CS "/account/whoami", api_whoami, R, 0},
    {"POST", CS "/account/password", api_password, R, J},
    {"POST", CS "/account/deactivate", api_deactivate, R, J},

    {"GET", CS "/devices", api_devices, R, 0},
    {"GET", CS "/devices/{deviceId}", api_device_get, R, 0},
    {"PUT", CS "/devices/{deviceId}", api_device_put, R, J},
    {"DELETE", CS "/devices/{deviceId}", api_device_delete, R, J},
    {"POST", CS "/delete_devices", api_delete_devices, R, J},

    {"GET", CS "/profile/{userId}", api_profile, N, 0},
    {"GET", CS "/profile/{userId}/{field}", api_profile_field_get, N, 0},
    {"PUT", CS "/profile/{userId}/{field}", api_profile_field_put, R, J},

    {"GET", CS "/sync", api_sync, R, 0},
    {"POST", CS "/user/{userId}/filter", api_filter_post, R, 0},
    {"GET", CS "/user/{userId}/filter/{filterId}", api_filter_get, R, 0},
    {"PUT", CS "/user/{userId}/account_data/{type}", api_account_data_put, R, J},
    {"GET", CS "/user/{userId}/account_data/{type}", api_account_data_get, R, 0},
    {"PUT", CS "/user/{userId}/rooms/{roomId}/account_data/{type}", api_room_account_data_put, R,
     J},
    {"GET", CS "/user/{userId}/rooms/{roomId}/account_data/{type}", api_room_account_data_get, R,
     0},
    {"GET", CS "/user/{userId}/rooms/{roomId}/tags", api_tags_get, R, 0},
    {"PUT", CS "/user/{userId}/rooms/{roomId}/tags/{tag}", api_tag_put, R, J},
    {"DELETE", CS "/user/{userId}/rooms/{roomId}/tags/{tag}", api_tag_delete, R, 0},
    {"POST", CS "/rooms/{roomId}/receipt/{receiptType}/{eventId}", api_receipt, R, J},
    {"POST", CS "/rooms/{roomId}/read_markers", api_read_markers, R, J},
    {"PUT", CS "/rooms/{roomId}/typing/{userId}", api_typing, R, J},
    {"PUT", CS "/presence/{userId}/status", api_presence_put, R, J},
    {"GET", CS "/presence/{userId}/status", api_presence_get, R, 0},

    {"POST", CS "/createRoom", api_create_room, R, J},
    {"PUT", CS "/rooms/{roomId}/send/{eventType}/{txnId}", api_send, R, J},
    {"PUT", CS "/rooms/{roomId}/state/{eventType}/{stateKey}", api_state_put, R, J},
    {"PUT", CS "/rooms/{roomId}/state/{eventType}/", api_state_put, R, J},
    {"PUT", CS "/rooms/{roomId}/state/{eventType}", api_state_put, R, J},
    {"GET", CS "/rooms/{roomId}/state", api_state_all, R, 0},
    {"GET", CS "/rooms/{roomId}/state/{eventType}/{stateKey}", api_state_get, R, 0},
    {"GET", CS "/rooms/{roomId}/state/{eventType}/", api_state_get, R, 0},
    {"GET", CS "/rooms/{roomId}/state/{eventType}", api_state_get, R, 0},
    {"GET", CS "/rooms/{roomId}/event/{eventId}", api_event_get, R, 0},
    {"POST", CS "/rooms/{roomId}/join", api_join_room_id, R, J},
    {"POST", CS "/join/{roomIdOrAlias}", api_join, R, J},
    {"POST", CS "/rooms/{roomId}/invite", api_invite, R, J},
    {"POST", CS "/rooms/{roomId}/leave", api_leave, R, J},
    {"POST", CS "/rooms/{roomId}/kick", api_kick, R, J},
    {"POST", CS "/rooms/{roomId}/ban", api_ban, R, J},
    {"POST", CS "/rooms/{roomId}/unban", api_unban, R, J},
    {"POST", CS "/rooms/{roomId}/forget", api_forget, R, J},
    {"GET", CS "/joined_rooms", api_joined_rooms, R, 0},
    {"GET", CS "/rooms/{roomId}/joined_members", api_joined_members, R, 0},
    {"GET", CS "/rooms/{roomId}/members", api_members, R, 0},
    {"GET", CS "/rooms/{roomId}/messages", api_messages, R, 0},
    {"PUT", CS "/rooms/{roomId}/redact/{eventId}/{txnId}", api_redact, R, J},
    {"PUT", CS "/directory/room/{roomAlias}", api_alias_put, R, J},
    {"GET", CS "/directory/room/{roomAlias}", api_alias_get, N, 0},
    {"DELETE", CS "/directory/room/{roomAlias}", api_alias_delete, R, 0},
    {"GET", CS "/rooms/{roomId}/aliases", api_room_aliases, R, 0},
    {"POST", CS "/knock/{roomIdOrAlias}", api_knock, R, J},
    {"GET", CS "/rooms/{roomId}/context/{eventId}", api_context, R, 0},
    {"GET", V1 "/rooms/{roomId}/relations/{eventId}", api_relations, R, 0},
    {"GET", V1 "/rooms/{roomId}/relations/{eventId}/{relType}", api_relations, R, 0},
    {"GET", V1 "/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}", api_relations, R, 0},
    {"GET", V1 "/rooms/{roomId}/timestamp_to_event", api_timestamp_to_event, R, 0},
    {"GET", V1 "/room_summary/{roomIdOrAlias}", api_room_summary, HTTP_AUTH_OPTIONAL, 0},
    {"POST", CS "/rooms/{roomId}/report/{eventId}", api_report_event, R, J},
    {"POST", CS "/rooms/{roomId}/report", api_report_room, R, J},
    {"POST", CS "/rooms/{roomId}/upgrade", api_upgrade, R, J},
    {"GET", CS "/publicRooms", api_public_rooms_get, R, 0},
    {"POST", CS "/publicRooms", api_public_rooms_post, R, J},
    {"GET", CS "/directory/list/room/{roomId}", api_directory_list_get, N, 0},
    {"PUT", CS "/directory/list/room/{roomId}", api_directory_list_put, R, J},

    /* end-to-end encryption (api/keys.c) */
    {"POST", CS "/keys/upload", api_keys_upload, R, J},
    {"POST", CS "/keys/query", api_keys_query, R, J},
    {"POST", CS "/keys/claim", api_keys_claim, R, J},
    {"GET", CS "/keys/changes", api_keys_changes, R, 0},
    {"POST", CS "/keys/device_signing/upload", api_device_signing_upload, R, J},
    {"POST", CS "/keys/signatures/upload", api_signatures_upload, R, J},
    {"PUT", CS "/sendToDevice/{eventType}/{txnId}", api_send_to_device, R, J},

    {"GET", ADMIN "/register", api_admin_register_nonce, N, 0},
    {"POST", ADMIN "/register", api_admin_register, N, J},
    {"GET", ADMIN "/registration_tokens", api_admin_regtokens_list, R, 0},
    {"POST", ADMIN "/registration_tokens/new", api_admin_regtokens_new, R, J},
    {"GET", ADMIN "/registration_tokens/{token}", api_admin_regtoken_get, R, 0},
    {"PUT", ADMIN "/registration_tokens/{token}", api_admin_regtoken_put, R, J},
    {"DELETE", ADMIN "/registration_tokens/{token}", api_admin_regtoken_delete, R, 0},
    {0},
};
