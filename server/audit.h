/* audit.h - the admin audit log: every state-changing admin request (any method but GET and
 * HEAD under /_synapse/admin/ and /_matrix/client/v1/admin/), recorded generically when it
 * ends, whichever handler served it. */
#ifndef AMTSBOTE_AUDIT_H
#define AMTSBOTE_AUDIT_H
#include <stdbool.h>

#include "server/config.h"
#include "server/http.h"

/* Start-up: open cfg->audit_log_path for appending when set. 0, or -1 (logged). */
int audit_init(const struct config *cfg);
void audit_shutdown(void);
/* Whether a request (method, path as received) is an admin request that changes state. */
bool audit_applies(const char *method, const char *path);
/* The http_end_observer: record the request in admin_audit_log and, when configured, as one
 * JSON line in the audit log file. Failures are logged; the answer has gone out already. */
void audit_request_ended(struct http_req *req, int status);

#endif
