/*
 * config.c - the configuration schema, its checks, and the copy into
 * struct nv_config. The only file in the tree that includes confuse.h.
 *
 * How it fits together:
 *
 *  - config_keys[] below is the one option table: for each key its
 *    section, kind, default (written as in the file), range and the field
 *    it fills. The libconfuse schema is generated from it,
 *    config_defaults() applies the same defaults, and the copy into struct
 *    nv_config walks it, so a key cannot be added in one place and
 *    forgotten in another. config_check.c checks and stores one value of
 *    each kind, without libconfuse.
 *
 *  - Every key is a libconfuse string or string list; libconfuse handles
 *    the syntax and our callbacks do the typing. libconfuse's own int and
 *    bool parsing stops the whole parse at the first bad value (and reads
 *    "010" as octal); admins should see every mistake in one pass.
 *
 *  - A scalar is checked by a validate callback (the validcb that
 *    cfg_set_validate_func() would set, put straight into the generated
 *    table), which libconfuse calls once per assignment, on the line of
 *    the value. A list element is checked by a parse callback instead:
 *    libconfuse calls a list's validate callback after every element and
 *    again at '}', so it cannot tell which element is new, while the parse
 *    callback sees each element exactly once. Neither callback ever
 *    returns failure to libconfuse (that would abort its parse); they
 *    report, count and carry on.
 *
 *  - Comments are blanked out before libconfuse sees the text: libconfuse
 *    3.3 counts an extra line for every comment, so every "file:line" after
 *    the first comment would point at the wrong line.
 */
#include "config_check.h"
#include "config_file.h"

#include <confuse.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_SECOND (UINT64_C(1000))
#define CONFIG_MINUTE (60 * CONFIG_SECOND)
#define CONFIG_HOUR (60 * CONFIG_MINUTE)
#define CONFIG_DAY (24 * CONFIG_HOUR)

#define CONFIG_KEY(sec, key, kind, def, lo, hi, field)                   \
	{ sec, key, CONFIG_KIND_##kind, def, lo, hi,                     \
	  offsetof(struct nv_config, field) }

/*
 * The option table. Ranges are deliberately narrow: each one keeps the
 * prober from being turned into a traffic source (rates, intervals) or
 * from being configured into uselessness (timeouts), and dist/ntpverify.conf
 * documents them. Cross-field rules live in config_cross_check().
 */
static const struct config_key config_keys[] = {
	CONFIG_KEY(NULL, "prober_name", NAME, NULL, 1, 64, prober_name),
	CONFIG_KEY(NULL, "perspective", NAME, "default", 1, 64, perspective),
	CONFIG_KEY(NULL, "region", NAME, "default", 1, 32, region),
	CONFIG_KEY(NULL, "database", STRING, "", 0, 0, database),
	CONFIG_KEY(NULL, "source_addresses", SOURCES, NULL, 0, 0, sources),
	CONFIG_KEY(NULL, "variable", NAME, "ntppool_verify", 1, 64, variable),
	CONFIG_KEY(NULL, "ntp_port", PORT, "123", 1, 65535, ntp_port),
	CONFIG_KEY(NULL, "allow_private_targets", BOOL, "false", 0, 1,
		   allow_private_targets),
	CONFIG_KEY(NULL, "status_socket", PATH, "/run/ntpverify/status.sock",
		   1, CONFIG_MAX_SOCKET_PATH, status_socket),
	CONFIG_KEY(NULL, "status_listen", LISTEN, NULL, 0, 0, status_listen),
	CONFIG_KEY(NULL, "status_max_clients", UINT, "256", 8, 65536,
		   status_max_clients),
	CONFIG_KEY(NULL, "status_allow", ALLOW, "{127.0.0.0/8, ::1}", 0, 0,
		   status_allow),

	/* docs/design.md, "The send schedule": why 5 s, 2 s, 30, 300 and the schedule. */
	CONFIG_KEY("probe", "timeout", DURATION, "5s",
		   100, 60 * CONFIG_SECOND, probe.timeout_ms),
	CONFIG_KEY("probe", "retransmit", DURATION, "2s",
		   100, 60 * CONFIG_SECOND, probe.retransmit_ms),
	CONFIG_KEY("probe", "max_in_flight", UINT, "256",
		   1, 65536, probe.max_in_flight),

	CONFIG_KEY("rate_limit", "global_pps", RATE, "50",
		   0, 100000, rate_limit.global_pps),
	CONFIG_KEY("rate_limit", "global_burst", UINT, "10",
		   1, 10000, rate_limit.global_burst),
	CONFIG_KEY("rate_limit", "per_destination_interval", DURATION, "30s",
		   CONFIG_SECOND, CONFIG_DAY,
		   rate_limit.per_destination_interval_ms),
	CONFIG_KEY("rate_limit", "per_destination_daily_packets", UINT, "30",
		   1, 100000, rate_limit.per_destination_daily_packets),
	CONFIG_KEY("rate_limit", "kod_holdoff", DURATION, "1h",
		   CONFIG_MINUTE, 7 * CONFIG_DAY, rate_limit.kod_holdoff_ms),
	CONFIG_KEY("rate_limit", "max_destinations", UINT, "300000",
		   1000, 16777216, rate_limit.max_destinations),
	CONFIG_KEY("rate_limit", "ipv6_prefix_length", UINT, "64",
		   32, 128, rate_limit.ipv6_prefix_length),
	CONFIG_KEY("rate_limit", "per_prefix_daily_packets", UINT, "300",
		   1, 1000000, rate_limit.per_prefix_daily_packets),
	CONFIG_KEY("rate_limit", "per_prefix_interval", DURATION, "10s",
		   0, CONFIG_DAY, rate_limit.per_prefix_interval_ms),

	CONFIG_KEY("retry", "schedule", SCHEDULE,
		   "{1m, 2m, 5m, 15m, 1h, 3h, 6h}",
		   CONFIG_SECOND, 7 * CONFIG_DAY, retry.schedule_ms),
	CONFIG_KEY("retry", "expiry", DURATION, "72h",
		   CONFIG_MINUTE, 30 * CONFIG_DAY, retry.expiry_ms),

	CONFIG_KEY("queue", "lease_batch", UINT, "50",
		   1, 1000, queue.lease_batch),
	CONFIG_KEY("queue", "lease_time", DURATION, "2m",
		   10 * CONFIG_SECOND, CONFIG_HOUR, queue.lease_time_ms),
	CONFIG_KEY("queue", "poll_interval", DURATION, "10s",
		   100, CONFIG_HOUR, queue.poll_interval_ms),
	CONFIG_KEY("queue", "reconnect_max", DURATION, "30s",
		   CONFIG_SECOND, 10 * CONFIG_MINUTE, queue.reconnect_max_ms),
	CONFIG_KEY("queue", "max_unwritten", UINT, "10000",
		   1, 1000000, queue.max_unwritten),
	CONFIG_KEY("queue", "lock_timeout", DURATION, "5s",
		   0, 10 * CONFIG_MINUTE, queue.lock_timeout_ms),
};

#define CONFIG_N_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* The sections, in the order libconfuse is told about them. */
static const char *const config_sections[] = {
	"probe", "rate_limit", "retry", "queue",
};

#define CONFIG_N_SECTIONS (sizeof(config_sections) / sizeof(config_sections[0]))

/* The libconfuse schema generated from config_keys[]. */
struct config_schema {
	cfg_opt_t root[CONFIG_N_KEYS + CONFIG_N_SECTIONS + 1]; /* keys, sections, end */
	cfg_opt_t sub[CONFIG_N_SECTIONS][CONFIG_N_KEYS + 1];   /* each section's keys, end */
};

/* State of one config_load() call, reached from the libconfuse callbacks. */
struct config_ctx {
	const char *path;          /* file name exactly as given; starts every message */
	config_error_fn err;       /* where messages go; NULL = stderr */
	void *arg;                 /* passed to err */
	unsigned n_errors;         /* messages reported so far */
	int line[CONFIG_N_KEYS];   /* line each key was set on; 0 = default */
	bool bad[CONFIG_N_KEYS];   /* key has a bad value: skip its cross-checks */
	const char *text;          /* the file's text, for hints; NULL: none */
	int retry_line;            /* line of retry.schedule's text, 0: none */
};

/* libconfuse callbacks get no user pointer, so the load in progress is
 * here (its lexer is global anyway: loading is single-threaded, config.h). */
static struct config_ctx *config_active;

__attribute__((format(printf, 3, 4)))
static void config_report(struct config_ctx *ctx, int line, const char *fmt,
			  ...)
{
	char msg[512], full[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(full, sizeof(full), "%s:%d: %s", ctx->path, line, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", ctx->path, msg);
	/*
	 * One error, one line: a quoted key or value may hold a newline or
	 * other control characters, which would split the message or drive
	 * the terminal. Show them as \xHH.
	 */
	char clean[sizeof(full) * 4];
	size_t n = 0;
	for (const char *c = full; *c != '\0' && n + 5 < sizeof(clean); c++) {
		unsigned char u = (unsigned char)*c;
		if (u < 0x20 || u == 0x7f)
			n += (size_t)snprintf(clean + n, sizeof(clean) - n,
					      "\\x%02x", u);
		else
			clean[n++] = (char)u;
	}
	clean[n] = '\0';
	ctx->n_errors++;
	if (ctx->err != NULL)
		ctx->err(ctx->arg, clean);
	else
		fprintf(stderr, "%s\n", clean);
}

static const struct config_key *config_key_find(const char *section,
						const char *name,
						size_t *index)
{
	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		const struct config_key *key = &config_keys[i];
		bool same_section = section == NULL ?
			key->section == NULL :
			key->section != NULL && strcmp(key->section, section) == 0;

		if (same_section && strcmp(key->name, name) == 0) {
			*index = i;
			return key;
		}
	}
	return NULL;
}

/* The key behind a libconfuse option; `sec` is the section it sits in. */
static const struct config_key *config_key_of(cfg_t *sec, cfg_opt_t *opt,
					      size_t *index)
{
	const char *section = cfg_name(sec);

	/* libconfuse calls the top level "root". */
	if (section != NULL && strcmp(section, "root") == 0)
		section = NULL;
	return config_key_find(section, cfg_opt_name(opt), index);
}

/* libconfuse validate callback for every scalar key (see the top). */
static int config_validate_scalar(cfg_t *sec, cfg_opt_t *opt)
{
	struct config_ctx *ctx = config_active;
	const struct config_key *key;
	struct config_value value;
	char label[64], msg[512];
	const char *text;
	size_t i;

	key = config_key_of(sec, opt, &i);
	text = cfg_opt_getnstr(opt, 0);
	if (ctx == NULL || key == NULL || text == NULL)
		return 0;
	config_key_label(key, label, sizeof(label));
	/* Last-one-wins would let a forgotten line at the bottom of the file
	 * silently undo a rate limit set further up. */
	if (ctx->line[i] != 0)
		config_report(ctx, sec->line, "%s: set again (first set on "
			      "line %d)", label, ctx->line[i]);
	else
		ctx->line[i] = sec->line;
	if (config_check_value(key, text, &value, msg, sizeof(msg)) < 0) {
		config_report(ctx, sec->line, "%s", msg);
		ctx->bad[i] = true;
	}
	return 0;
}

/*
 * libconfuse parse callback for every list element (see the top). The new
 * element is already counted in opt but has no value yet.
 */
static int config_parse_element(cfg_t *sec, cfg_opt_t *opt, const char *text,
				void *result)
{
	struct config_ctx *ctx = config_active;
	const struct config_key *key;
	struct config_value value, other;
	char label[64], msg[512];
	unsigned n = cfg_opt_size(opt);
	unsigned max;
	size_t i;

	/* libconfuse stores whatever we hand back; keep the text as is. */
	*(const char **)result = text;
	key = config_key_of(sec, opt, &i);
	if (ctx == NULL || key == NULL)
		return 0;
	config_key_label(key, label, sizeof(label));
	/* Line 0 is libconfuse parsing a default, not the admin's file. */
	if (sec->line > 0) {
		if (n == 1 && ctx->line[i] != 0)
			config_report(ctx, sec->line, "%s: set again (first "
				      "set on line %d)", label, ctx->line[i]);
		if (ctx->line[i] == 0)
			ctx->line[i] = sec->line;
	}

	max = key->kind == CONFIG_KIND_SOURCES ? CONFIG_MAX_SOURCES :
	      key->kind == CONFIG_KIND_ALLOW ? CONFIG_MAX_ALLOW :
					       CONFIG_MAX_SCHEDULE;
	if (n > max) {
		if (n == max + 1)
			config_report(ctx, sec->line, "%s: more than %u entries",
				      label, max);
		ctx->bad[i] = true;
		return 0;
	}
	if (config_check_value(key, text, &value, msg, sizeof(msg)) < 0) {
		config_report(ctx, sec->line, "%s", msg);
		ctx->bad[i] = true;
		return 0;
	}
	if (key->kind != CONFIG_KIND_SOURCES)
		return 0;
	for (unsigned j = 0; j + 1 < n; j++) {
		const char *earlier = cfg_opt_getnstr(opt, j);

		if (earlier == NULL ||
		    config_check_value(key, earlier, &other, msg,
				       sizeof(msg)) < 0)
			continue;
		if (config_same_address(&value.src.addr, &other.src.addr)) {
			config_report(ctx, sec->line, "%s: '%.64s' is listed "
				      "twice", label, text);
			ctx->bad[i] = true;
			break;
		}
	}
	return 0;
}

static void config_confuse_error(cfg_t *sec, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* libconfuse's own errors: syntax, unknown keys. They end its parse. */
static void config_confuse_error(cfg_t *sec, const char *fmt, va_list ap)
{
	char hint[256];

	struct config_ctx *ctx = config_active;
	char msg[512];

	/* Name an unknown key the way our own messages name keys. With a
	 * translated libconfuse the format differs and its text is used. */
	if (strcmp(fmt, "no such option '%s'") == 0 && ctx != NULL) {
		const char *name = va_arg(ap, const char *);
		const char *section = sec != NULL ? cfg_name(sec) : NULL;

		if (section != NULL && strcmp(section, "root") != 0)
			snprintf(msg, sizeof(msg), "%s.%.64s: unknown key",
				 section, name);
		else
			snprintf(msg, sizeof(msg), "%.64s: unknown key", name);
	} else {
		vsnprintf(msg, sizeof(msg), fmt, ap);
	}
	if (ctx == NULL) {
		fprintf(stderr, "%s\n", msg);
		return;
	}
	/* sec->filename is not used: sections created before the parse
	 * started carry none, and the path as given is what the admin typed. */
	hint[0] = '\0';
	if (ctx->text != NULL && sec != NULL &&
	    strncmp(msg, "unexpected token", 16) == 0)
		config_quote_hint(ctx->text, sec->line, hint, sizeof(hint));
	config_report(ctx, sec != NULL ? sec->line : 0, "%s%s", msg, hint);
}

static cfg_opt_t config_opt_for(const struct config_key *key)
{
	if (config_kind_is_list(key->kind)) {
		/* libconfuse strdup()s the default and never writes to it. */
		cfg_opt_t list = CFG_STR_LIST_CB(key->name, (char *)key->def,
						 CFGF_NONE,
						 config_parse_element);
		return list;
	}
	cfg_opt_t scalar = CFG_STR(key->name, key->def, CFGF_NONE);

	scalar.validcb = config_validate_scalar;
	return scalar;
}

static void config_schema_build(struct config_schema *schema)
{
	size_t n_root = 0;
	size_t n_sub[CONFIG_N_SECTIONS] = { 0 };
	const cfg_opt_t end = CFG_END();

	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		const struct config_key *key = &config_keys[i];
		size_t s;

		if (key->section == NULL) {
			schema->root[n_root++] = config_opt_for(key);
			continue;
		}
		for (s = 0; s < CONFIG_N_SECTIONS; s++)
			if (strcmp(config_sections[s], key->section) == 0)
				break;
		/* A table typo would otherwise silently drop the key. */
		if (s == CONFIG_N_SECTIONS)
			abort();
		schema->sub[s][n_sub[s]++] = config_opt_for(key);
	}
	for (size_t s = 0; s < CONFIG_N_SECTIONS; s++) {
		cfg_opt_t section = CFG_SEC(config_sections[s], schema->sub[s],
					    CFGF_NONE);

		schema->sub[s][n_sub[s]] = end;
		schema->root[n_root++] = section;
	}
	schema->root[n_root] = end;
}

/* Apply one default (a list default is "{a, b, c}"). Defaults are ours. */
static void config_apply_default(struct nv_config *cfg,
				 const struct config_key *key)
{
	struct config_value value;
	char msg[512];
	char item[64];
	const char *p = key->def;

	if (!config_kind_is_list(key->kind)) {
		if (config_check_value(key, p, &value, msg, sizeof(msg)) < 0 ||
		    config_store(cfg, key, p, &value) < 0)
			abort(); /* a bad table entry or no memory at start-up */
		return;
	}
	while (*p != '\0') {
		size_t n;

		p += strspn(p, "{}, ");
		n = strcspn(p, "{}, ");
		if (n == 0)
			continue;
		if (n >= sizeof(item))
			abort();
		memcpy(item, p, n);
		item[n] = '\0';
		p += n;
		if (config_check_value(key, item, &value, msg, sizeof(msg)) < 0 ||
		    config_store(cfg, key, item, &value) < 0)
			abort();
	}
}

void config_defaults(struct nv_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < CONFIG_N_KEYS; i++)
		if (config_keys[i].def != NULL)
			config_apply_default(cfg, &config_keys[i]);
}

void config_free(struct nv_config *cfg)
{
	char **strings[] = { &cfg->prober_name, &cfg->perspective, &cfg->region,
			     &cfg->database, &cfg->variable, &cfg->status_socket,
			     &cfg->status_listen };

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		free(*strings[i]);
		*strings[i] = NULL;
	}
}

/* Copy the parsed tree into *cfg, skipping values already reported bad. */
static int config_copy(struct config_ctx *ctx, cfg_t *root,
		       struct nv_config *cfg)
{
	struct config_value value;
	char msg[512];

	for (size_t i = 0; i < CONFIG_N_KEYS; i++) {
		const struct config_key *key = &config_keys[i];
		cfg_t *sec = key->section != NULL ?
			cfg_getsec(root, key->section) : root;
		unsigned n;

		if (sec == NULL)
			continue;
		n = config_kind_is_list(key->kind) ? cfg_size(sec, key->name) : 1;
		for (unsigned j = 0; j < n; j++) {
			const char *text = cfg_getnstr(sec, key->name, j);

			if (text == NULL ||
			    config_check_value(key, text, &value, msg,
					       sizeof(msg)) < 0)
				continue;
			if (config_store(cfg, key, text, &value) < 0) {
				config_report(ctx, 0, "out of memory");
				return -1;
			}
		}
	}
	return 0;
}

static size_t config_index(const char *section, const char *name)
{
	size_t i;

	if (config_key_find(section, name, &i) == NULL)
		abort(); /* cross-checks name keys of the table above */
	return i;
}

/* Rules between keys, checked once every value is known. */
static void config_cross_check(struct config_ctx *ctx,
			       const struct nv_config *cfg)
{
	size_t timeout = config_index("probe", "timeout");
	size_t retransmit = config_index("probe", "retransmit");
	size_t lease = config_index("queue", "lease_time");
	size_t schedule = config_index("retry", "schedule");
	char a[32], b[32];

	/* Blame the line the admin wrote, preferring the key named first. */
#define CONFIG_BLAME(x, y) (ctx->line[x] != 0 ? ctx->line[x] : ctx->line[y])

	if (!ctx->bad[timeout] && !ctx->bad[retransmit] &&
	    cfg->probe.retransmit_ms > cfg->probe.timeout_ms) {
		config_format_duration(cfg->probe.retransmit_ms, a, sizeof(a));
		config_format_duration(cfg->probe.timeout_ms, b, sizeof(b));
		config_report(ctx, CONFIG_BLAME(retransmit, timeout),
			      "probe.retransmit (%s) must not exceed "
			      "probe.timeout (%s)", a, b);
	}
	/* A lease that ends before the probe can would hand the same row to
	 * a second prober while the first is still asking the server. */
	if (!ctx->bad[timeout] && !ctx->bad[lease] &&
	    cfg->queue.lease_time_ms <= cfg->probe.timeout_ms) {
		config_format_duration(cfg->queue.lease_time_ms, a, sizeof(a));
		config_format_duration(cfg->probe.timeout_ms, b, sizeof(b));
		config_report(ctx, CONFIG_BLAME(lease, timeout),
			      "queue.lease_time (%s) must be longer than "
			      "probe.timeout (%s)", a, b);
	}
	/* An empty list sets no line of its own: blame its section. */
	if (!ctx->bad[schedule] && cfg->retry.n_schedule == 0)
		config_report(ctx, ctx->line[schedule] ? ctx->line[schedule]
						       : ctx->retry_line,
			      "retry.schedule: needs at least one entry "
			      "(e.g. schedule = { 1m, 5m, 30m })");
#undef CONFIG_BLAME
}

int config_load(struct nv_config *cfg, const char *path, config_error_fn err,
		void *arg)
{
	struct config_ctx ctx = { .path = path, .err = err, .arg = arg };
	struct config_schema schema;
	struct nv_config loaded;
	cfg_t *tree = NULL;
	char *text = NULL;
	char msg[512];
	int line = 0;
	int result = -1;

	/* On failure the caller gets numbers at their defaults and nothing
	 * to free (config.h). */
	config_defaults(cfg);
	config_free(cfg);
	memset(&loaded, 0, sizeof(loaded));

	text = config_file_read(path, msg, sizeof(msg));
	if (text == NULL) {
		config_report(&ctx, 0, "%s", msg);
		goto out;
	}
	ctx.text = text;
	/* Reports, and leaves the rest for libconfuse to check as well. */
	if (config_blank_comments(text, &line, msg, sizeof(msg)) < 0)
		config_report(&ctx, line, "%s", msg);

	config_schema_build(&schema);
	config_active = &ctx;
	tree = cfg_init(schema.root, CFGF_NONE);
	if (tree == NULL) {
		config_report(&ctx, 0, "out of memory");
		goto out;
	}
	cfg_set_error_function(tree, config_confuse_error);
	if (cfg_parse_buf(tree, text) != CFG_SUCCESS) {
		/* libconfuse has reported why; its tree is incomplete, so
		 * cross-checks would only add noise. */
		if (ctx.n_errors == 0)
			config_report(&ctx, 0, "cannot parse");
		goto out;
	}
	if (config_copy(&ctx, tree, &loaded) < 0)
		goto out;
	/* Comments are blanked already, so a "schedule =" found is real. */
	ctx.retry_line = config_key_line(text, "schedule");
	if (ctx.retry_line == 0 && cfg_getsec(tree, "retry") != NULL)
		ctx.retry_line = cfg_getsec(tree, "retry")->line;
	config_cross_check(&ctx, &loaded);
	if (ctx.n_errors == 0) {
		*cfg = loaded;
		memset(&loaded, 0, sizeof(loaded));
		result = 0;
	}
out:
	config_free(&loaded);
	if (tree != NULL)
		cfg_free(tree);
	config_active = NULL;
	free(text);
	return result;
}
