/*
 * status_render.h - the two documents of the status socket, as pure
 * functions of a snapshot (status_snapshot.h):
 *
 *   status_render_metrics()  Prometheus text exposition format 0.0.4
 *   status_render_json()     the /status JSON object `ntpverify status` reads
 *
 * Label values and JSON strings from outside (prober name, servers,
 * details) are escaped; nothing rendered ever contains a token.
 */
#ifndef NTPVERIFY_STATUS_RENDER_H
#define NTPVERIFY_STATUS_RENDER_H

#include <stdio.h>

#include "daemon/status_snapshot.h"

#define STATUS_RECENT_SHOWN 10 /* outcomes listed by /status */

/* Write the document to f. Return 0, or -1 when f reported a write error. */
int status_render_metrics(const struct status_snapshot *s, FILE *f)
	__attribute__((warn_unused_result));
int status_render_json(const struct status_snapshot *s, FILE *f)
	__attribute__((warn_unused_result));

#endif
