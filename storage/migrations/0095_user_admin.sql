-- The user admin API (Synapse's /_synapse/admin/v2/users and friends, the Client-Server API's
-- v1.18 /admin/suspend and /admin/lock): the moderation states of an account, and the audit
-- log of every state-changing admin request.
--   erased         GDPR erasure (deactivate with erase): the events the user sent are served
--                  pruned to users who were not joined when they were sent (server/roomread.c)
--   locked         every request but logout answers 401 M_USER_LOCKED (soft_logout)
--   suspended      reads work; sending, joining, inviting, profile changes answer 403
--                  M_USER_SUSPENDED
--   shadow_banned  sends and invites answer success but nothing is stored or sent
--   user_type      Synapse's user_type (NULL, "bot", "support"), kept as given
ALTER TABLE users ADD COLUMN erased boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN locked boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN suspended boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN shadow_banned boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN user_type text;

-- One row per state-changing admin request (any method but GET/HEAD under /_synapse/admin/
-- and /_matrix/client/v1/admin/), written when the answer has gone out (server/audit.c).
-- path has its secrets masked (registration tokens); target is the user, room or other ID
-- the path names, when it names one.
CREATE TABLE admin_audit_log (
    id          bigserial PRIMARY KEY,
    ts          bigint NOT NULL,           -- ms since the epoch
    admin_id    text,                      -- the requesting user; NULL when unauthenticated
    method      text   NOT NULL,
    path        text   NOT NULL,
    target      text,
    status      integer NOT NULL,          -- the HTTP status answered (0: none was sent)
    client_ip   text   NOT NULL
);
CREATE INDEX admin_audit_log_ts ON admin_audit_log (ts);
CREATE INDEX admin_audit_log_admin ON admin_audit_log (admin_id, ts);
