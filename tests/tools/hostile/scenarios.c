/*
 * scenarios.c - the scenario table: name (as in the map file), mode 6
 * handler and its argument, mode 3 answer, route, and the description
 * --list prints.
 */
#include <stdio.h>
#include <string.h>

#include "hostile.h"

static const struct scenario scenarios[] = {
	/* positive controls: legal replies that must verify */
	{ "good", sc_good, 0, M3_GOOD, ROUTE_SAME, "correct reply with the token" },
	{ "good_quoted", sc_good_quoted, 0, M3_GOOD, ROUTE_SAME, "NAME=\"TOKEN\"" },
	{ "good_in_list", sc_good_in_list, 0, M3_GOOD, ROUTE_SAME, "token among other variables" },
	{ "frag_reverse", sc_frags, FR_REVERSE, M3_GOOD, ROUTE_SAME, "8 fragments, last first" },
	{ "frag_shuffle", sc_frags, FR_SHUFFLE, M3_GOOD, ROUTE_SAME, "8 fragments, random order" },
	{ "frag_dup", sc_frags, FR_DUP, M3_GOOD, ROUTE_SAME, "every fragment twice or more" },
	{ "frag_32", sc_frags, FR_32, M3_GOOD, ROUTE_SAME, "exactly 32 fragments (the limit)" },
	{ "junk_then_good", sc_junk_then_good, 0, M3_GOOD, ROUTE_SAME, "64 junk datagrams, then the correct reply" },
	/* reassembly */
	{ "frag_overlap", sc_frags, FR_OVERLAP, M3_GOOD, ROUTE_SAME, "two fragments sharing 10 octets" },
	{ "frag_dup_conflict", sc_frags, FR_DUP_CONFLICT, M3_GOOD, ROUTE_SAME, "a fragment repeated with other content" },
	{ "frag_gap", sc_frags, FR_GAP, M3_GOOD, ROUTE_SAME, "one fragment never sent" },
	{ "frag_33", sc_frags, FR_33, M3_GOOD, ROUTE_SAME, "33 fragments" },
	{ "never_ends", sc_never_ends, 0, M3_GOOD, ROUTE_SAME, "140 full fragments, all with M set" },
	/* header checks */
	{ "count_too_big", sc_bad_header, BAD_COUNT, M3_GOOD, ROUTE_SAME, "count 200 more than the datagram holds" },
	{ "count_huge", sc_bad_header, BAD_COUNT_HUGE, M3_GOOD, ROUTE_SAME, "count 65535" },
	{ "short", sc_bad_header, BAD_SHORT, M3_GOOD, ROUTE_SAME, "11-octet datagram" },
	{ "oversized", sc_bad_header, BAD_OVERSIZED, M3_GOOD, ROUTE_SAME, "valid reply padded to 3000 octets" },
	{ "wrong_seq", sc_bad_header, BAD_SEQ, M3_GOOD, ROUTE_SAME, "sequence + 1" },
	{ "wrong_opcode", sc_bad_header, BAD_OPCODE, M3_GOOD, ROUTE_SAME, "opcode 1" },
	{ "wrong_assoc", sc_bad_header, BAD_ASSOC, M3_GOOD, ROUTE_SAME, "association 1" },
	{ "wrong_mode", sc_bad_header, BAD_MODE, M3_GOOD, ROUTE_SAME, "mode 7" },
	{ "wrong_mode4", sc_bad_header, BAD_MODE4, M3_GOOD, ROUTE_SAME, "mode 4 in a mode 6 reply" },
	{ "no_r_bit", sc_bad_header, BAD_R, M3_GOOD, ROUTE_SAME, "R bit clear" },
	{ "wrong_version", sc_bad_header, BAD_VERSION, M3_GOOD, ROUTE_SAME, "VN differs from the request's" },
	/* where the reply comes from */
	{ "from_other_port", sc_good, 0, M3_GOOD, ROUTE_OTHER_PORT, "correct replies from --other-port" },
	{ "from_other_addr", sc_good, 0, M3_GOOD, ROUTE_OTHER_ADDR, "correct replies from --other-addr" },
	/* an on-path forger near one prober: the token to that source only */
	{ "token_only_to_127_0_0_2", sc_token_to_source, 0x7f000002, M3_GOOD, ROUTE_SAME, "the token to source 127.0.0.2, \"x\" + TOKEN to others" },
	/* error replies */
	{ "error_0", sc_error, 0, M3_GOOD, ROUTE_SAME, "E bit, code 0 (unspecified)" },
	{ "error_1", sc_error, 1, M3_GOOD, ROUTE_SAME, "E bit, code 1 (permission)" },
	{ "error_2", sc_error, 2, M3_GOOD, ROUTE_SAME, "E bit, code 2 (bad format), stale offset" },
	{ "error_3", sc_error, 3, M3_GOOD, ROUTE_SAME, "E bit, code 3 (bad opcode)" },
	{ "error_4", sc_error, 4, M3_GOOD, ROUTE_SAME, "E bit, code 4 (bad association)" },
	{ "error_5", sc_error, 5, M3_GOOD, ROUTE_SAME, "E bit, code 5 (unknown variable)" },
	{ "error_6", sc_error, 6, M3_GOOD, ROUTE_SAME, "E bit, code 6 (bad value)" },
	{ "error_7", sc_error, 7, M3_GOOD, ROUTE_SAME, "E bit, code 7 (restrict)" },
	{ "error_200", sc_error, 200, M3_GOOD, ROUTE_SAME, "E bit, code 200 (undefined)" },
	{ "error_with_token", sc_error_with_token, 0, M3_GOOD, ROUTE_SAME, "E bit, data holds the token" },
	/* the value */
	{ "token_prefix", sc_token_prefix, 0, M3_GOOD, ROUTE_SAME, "value TOKEN + \"x\"" },
	{ "token_suffix", sc_token_suffix, 0, M3_GOOD, ROUTE_SAME, "value \"x\" + TOKEN" },
	{ "token_truncated", sc_token_truncated, 0, M3_GOOD, ROUTE_SAME, "value TOKEN minus its last octet" },
	{ "token_nul", sc_token_nul, 0, M3_GOOD, ROUTE_SAME, "value TOKEN NUL" },
	{ "token_in_padding", sc_token_in_padding, 0, M3_GOOD, ROUTE_SAME, "count covers NAME= only, token after it" },
	{ "token_in_other_var", sc_in_other_var, 0, M3_GOOD, ROUTE_SAME, "other=NAME=TOKEN" },
	{ "token_in_other_var_quoted", sc_in_other_var_q, 0, M3_GOOD, ROUTE_SAME, "other=\"NAME=TOKEN\"" },
	{ "quoted_with_commas", sc_quoted_commas, 0, M3_GOOD, ROUTE_SAME, "NAME=\"TOKEN,x=y\"" },
	{ "unterminated_quote", sc_unterminated, 0, M3_GOOD, ROUTE_SAME, "NAME=\"TOKEN" },
	{ "dup_var", sc_dup_var, 0, M3_GOOD, ROUTE_SAME, "NAME twice, the token second" },
	{ "empty_value", sc_empty_value, 0, M3_GOOD, ROUTE_SAME, "NAME=" },
	{ "no_value", sc_no_value, 0, M3_GOOD, ROUTE_SAME, "NAME without =" },
	{ "different_case", sc_different_case, 0, M3_GOOD, ROUTE_SAME, "value uppercased" },
	{ "different_case_name", sc_different_case, 1, M3_GOOD, ROUTE_SAME, "name uppercased" },
	/* floods, silence, mode 3 */
	{ "junk_flood", sc_junk, 0, M3_JUNK, ROUTE_SAME, "--junk junk datagrams per request, nothing valid" },
	{ "mode3_only", NULL, 0, M3_GOOD, ROUTE_SAME, "mode 3 answered, mode 6 silent" },
	{ "ntpd", sc_good, 0, M3_NTPD, ROUTE_SAME, "as ntpd: mode 6 good, mode 3 answered, keyed mode 3 checked under --key" },
	{ "keyed_silent", NULL, 0, M3_PLAIN_ONLY, ROUTE_SAME, "plain mode 3 answered; keyed mode 3 and mode 6 silent" },
	{ "kod_rate", NULL, 0, M3_KOD_RATE, ROUTE_SAME, "mode 3 KoD RATE, mode 6 silent" },
	{ "m3_bad_origin", NULL, 0, M3_BAD_ORIGIN, ROUTE_SAME, "mode 4 with a wrong origin, mode 6 silent" },
	{ "silent", NULL, 0, M3_SILENT, ROUTE_SAME, "never answers" },
};

const struct scenario *find_scenario(const char *name)
{
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return &scenarios[i];
	return NULL;
}

void list_scenarios(FILE *f)
{
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		fprintf(f, "%-26s %s\n", scenarios[i].name, scenarios[i].what);
}
