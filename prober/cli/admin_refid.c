/*
 * admin_refid.c - the lines that give a stratum-1 server's reference
 * clock its refid code (see admin_refid.h).
 *
 * Each daemon sets a reference clock's refid on the line that configures
 * the clock: ntp.org's ntpd on the clock's `fudge 127.127.T.U` line,
 * NTPsec and chrony as an option of `refclock` (NTPsec 1.2.2 and chrony
 * 4.3 with the SHM driver in tests/integration/refid_check.sh; ntp.org's
 * fudge from its documentation, not run here). All three take the four
 * characters as they are.
 */
#include "cli/admin_refid.h"

/* The Debian paths, as admin_key.c prints them. */
#define NTPSEC_CONF "/etc/ntpsec/ntp.conf"
#define NTPORG_CONF "/etc/ntp.conf"
#define CHRONY_CONF "/etc/chrony/chrony.conf"

void admin_refid_print(FILE *f, const char *code, const char *server)
{
	fprintf(f, "refid code %s: set it as the reference ID of the reference "
		   "clock that makes\n%s a stratum-1 server, on the line that "
		   "configures that clock.\n\n", code, server);

	fprintf(f, "ntpd from ntp.org: on the clock's fudge line in %s (T.U: "
		   "the clock's\ntype and unit, as on its 'server 127.127.T.U' "
		   "line):\n\n", NTPORG_CONF);
	fprintf(f, "fudge 127.127.T.U refid %s\n\n", code);
	fprintf(f, "NTPsec: add 'refid %s' to the clock's refclock line in "
		   "%s, e.g.:\n\n", code, NTPSEC_CONF);
	fprintf(f, "refclock nmea unit 0 refid %s\n\n", code);
	fprintf(f, "chrony: add 'refid %s' to the clock's refclock line in "
		   "%s, e.g.:\n\n", code, CHRONY_CONF);
	fprintf(f, "refclock SHM 0 refid %s\n\n", code);

	fprintf(f, "then restart the daemon and check on the server that it "
		   "answers at stratum 1\nwith refid %s:\n\n", code);
	fprintf(f, "ntpq -c \"rv 0 stratum,refid\" 127.0.0.1    (ntpd, NTPsec)\n"
		   "chronyc tracking                          (chrony: "
		   "Stratum, Reference ID)\n\n");
	fprintf(f, "No 'restrict' or 'noquery' change is needed: the prober "
		   "sends ordinary client\nrequests. The code is not a secret. "
		   "Once the verification says verified, the\nrefid can be "
		   "set back to what it was.\n\n");
}
