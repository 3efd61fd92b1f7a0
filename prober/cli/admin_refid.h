/*
 * admin_refid.h - the refid method's part of `ntpverify add`: the lines
 * that set a stratum-1 server's reference ID to its code, for ntpd,
 * NTPsec and chrony. The code itself comes from core/refid_code.h; it is
 * not a secret (every reply of the server shows it).
 */
#ifndef NTPVERIFY_ADMIN_REFID_H
#define NTPVERIFY_ADMIN_REFID_H

#include <stdio.h>

/* What the operator of `server` changes and checks, to f. */
void admin_refid_print(FILE *f, const char *code, const char *server);

#endif
