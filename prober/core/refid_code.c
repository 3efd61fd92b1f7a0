/*
 * refid_code.c - the refid method's codes: their shape, the well-known
 * reference IDs they must never be, and how they are drawn (refid_code.h).
 */
#include <string.h>

#include "core/random.h"
#include "core/refid_code.h"

/*
 * Reference IDs that servers carry without anyone asking them to: the
 * refclock names of RFC 5905 (section 7.3) and of the ntpd/NTPsec
 * drivers' defaults, the names operators commonly choose for their
 * clocks, the refids of well-known public services, and the
 * Kiss-o'-Death codes (stratum 0, never a proof, listed so that a code is
 * never one of them either). Only four-character entries can equal a
 * code; shorter ones are also blocked as prefixes (below), because
 * operators number their clocks: GPS1, PPS0, DCF2.
 */
static const char *const well_known[] = {
	/* RFC 5905 and common refclocks */
	"GOES", "GPS", "GAL", "PPS", "IRIG", "WWVB", "DCF", "HBG", "MSF",
	"JJY", "LORC", "TDF", "CHU", "WWV", "WWVH", "NIST", "ACTS", "USNO",
	"PTB", "GNSS", "GLON", "BDS", "QZSS", "NAVC", "IRNS", "LORN",
	"ATOM", "CDMA", "GSM", "LTE", "TRUE", "MRS", "NMEA", "GPSD", "SHM",
	"PHC", "SOCK", "SOC", "RTC", "LOCL", "LCL", "LOC", "FREE", "OSC",
	"XTAL", "OCXO", "TCXO", "HOLD", "DFM", "PZF", "ONCR", "ARBC", "JUPI",
	"HPGP", "ZYFR", "TSIP", "UBX", "UBLX", "MBG", "MEIN", "NEOC", "HOPF",
	"TRAK", "CHRO", "WHAR", "TPRO", "PST", "PTP", "REFC", "UNIX",
	"NONE", "NULL", "TEST", "CODE",
	/* public services */
	"GOOG", "FB", "AMZN", "AAPL", "MSFT", "NTS", "SPOT",
	/* Kiss-o'-Death codes (RFC 5905, section 7.4), and ntpd's states */
	"ACST", "AUTH", "AUTO", "BCST", "CRYP", "DENY", "DROP", "RSTR",
	"INIT", "MCST", "NKEY", "NTSN", "RATE", "RMOT", "STEP", "XFAC",
};

/* Letters and digits that survive being read aloud or retyped. */
static const char alphabet[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

bool refid_code_valid(const char *code)
{
	size_t n = strlen(code);

	if (n != REFID_CODE_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = code[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

const char *refid_code_reserved(const char *code)
{
	for (size_t i = 0; i < sizeof(well_known) / sizeof(well_known[0]); i++) {
		const char *w = well_known[i];
		size_t n = strlen(w);

		/* A four-character entry is the code itself; a shorter one
		 * blocks every code it begins (GPS1, SHM0, FB01). */
		if (strncmp(code, w, n) == 0)
			return "a well-known reference ID";
	}
	return NULL;
}

int refid_code_make(char out[REFID_CODE_LEN + 1])
{
	const unsigned span = sizeof(alphabet) - 1;
	const unsigned limit = 256 / span * span; /* rejection: no bias */

	do {
		for (size_t i = 0; i < REFID_CODE_LEN; i++) {
			unsigned char b;
			do {
				if (random_bytes(&b, 1) < 0)
					return -1;
			} while (b >= limit);
			out[i] = alphabet[b % span];
		}
		out[REFID_CODE_LEN] = '\0';
	} while (refid_code_reserved(out) != NULL);
	return 0;
}
