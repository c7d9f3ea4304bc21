/* config_load.c — where configuration comes from: the INI file (libinih), DIAMOND_*
 * environment variables and the command line, applied in that order over the defaults.
 *
 * libinih as packaged calls the handler without a line number, splits lines longer than
 * its 200-byte buffer and treats an indented line as the continuation of the previous
 * value. The file is therefore fed through our own reader, which counts lines (the
 * handler runs right after the reader returned its line, so the reader's count is the
 * handler's line), strips leading blanks (no continuation lines), refuses overlong lines
 * instead of splitting them, and checks [section] headers, which inih does not report.
 * The first error by line number is the one reported.
 */
#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config_keys.h"
#include "diamond/error.h"
#include "diamond/log.h"

#define MAX_KEYS 128

struct ini_ctx {
  dm_config *c;
  const char *path;
  FILE *f;
  char *line;
  size_t cap;
  int lineno;
  int err_line; /* first error's line, 0 = none */
  char err[768];
  int set_line[MAX_KEYS]; /* line where each key was set, to refuse a second one */
};

/* Records the first error, prefixed with file:line. */
__attribute__((format(printf, 2, 3))) static void fail_at(struct ini_ctx *x, const char *fmt,
                                                          ...) {
  if (x->err_line != 0) return;
  x->err_line = x->lineno;
  int n = snprintf(x->err, sizeof x->err, "%s:%d: ", x->path, x->lineno);
  if (n < 0 || (size_t)n >= sizeof x->err) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->err + n, sizeof x->err - (size_t)n, fmt, ap);
  va_end(ap);
}

static char *reader(char *str, int num, void *stream) {
  struct ini_ctx *x = stream;
  ssize_t got = getline(&x->line, &x->cap, x->f);
  if (got < 0) return NULL;
  x->lineno++;
  char *s = x->line;
  size_t n = (size_t)got;
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
  while (n > 0 && (*s == ' ' || *s == '\t')) s++, n--;
  if (n + 3 > (size_t)num) {
    fail_at(x, "line longer than %d bytes (set long values through the environment)", num - 3);
    n = 0;
  } else if (n > 0 && s[0] == '[') {
    char *close = memchr(s, ']', n);
    if (close != NULL) {
      char name[64];
      size_t len = (size_t)(close - s - 1);
      snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1),
               s + 1);
      if (!dm_cfg_section_known(name)) fail_at(x, "unknown section [%s]", name);
    }
  }
  memcpy(str, s, n);
  str[n] = '\n';
  str[n + 1] = '\0';
  return str;
}

static int handler(void *user, const char *section, const char *name, const char *value) {
  struct ini_ctx *x = user;
  if (section[0] == '\0') {
    fail_at(x, "%s: key outside any [section]", name);
    return 0;
  }
  const cfg_key *k = dm_cfg_find(section, name);
  if (k == NULL) {
    if (dm_cfg_section_known(section)) fail_at(x, "[%s] unknown key %s", section, name);
    else fail_at(x, "unknown section [%s]", section);
    return 0;
  }
  size_t idx = (size_t)(k - dm_cfg_keys);
  if (x->set_line[idx] != 0) {
    fail_at(x, "[%s] %s: set twice (first on line %d)", k->section, k->name,
            x->set_line[idx]);
    return 0;
  }
  x->set_line[idx] = x->lineno;
  char why[512];
  if (dm_cfg_key_set(x->c, k, value, why, sizeof why) < 0) {
    fail_at(x, "[%s] %s: %s", k->section, k->name, why);
    return 0;
  }
  return 1;
}

int dm_config_load_file(dm_config *c, const char *path, char *err, size_t errlen) {
  if (dm_cfg_nkeys > MAX_KEYS) return DM_EINVAL;
  struct ini_ctx *x = calloc(1, sizeof *x);
  if (x == NULL) {
    snprintf(err, errlen, "%s: out of memory", path);
    return DM_ENOMEM;
  }
  int rc = 0;
  x->c = c;
  x->path = path;
  x->f = fopen(path, "r");
  if (x->f == NULL) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    rc = DM_EIO;
    goto fail;
  }
  int line = ini_parse_stream(reader, x, handler, x);
  if (ferror(x->f)) {
    snprintf(err, errlen, "%s: read error", path);
    rc = DM_EIO;
  } else if (line < 0) {
    snprintf(err, errlen, "%s: cannot parse (%s)", path, line == -2 ? "out of memory" : "error");
    rc = line == -2 ? DM_ENOMEM : DM_EIO;
  } else if (line > 0 && (x->err_line == 0 || line < x->err_line)) {
    snprintf(err, errlen, "%s:%d: syntax error: expected [section], key = value or a "
             "comment", path, line);
    rc = DM_EINVAL;
  } else if (x->err_line != 0) {
    snprintf(err, errlen, "%s", x->err);
    rc = DM_EINVAL;
  }
  fclose(x->f);
fail:
  free(x->line);
  free(x);
  return rc;
}

/* ---- environment ------------------------------------------------------------------ */

int dm_config_load_env(dm_config *c, char **envp, char *err, size_t errlen) {
  if (envp == NULL) envp = environ;
  char name[96], why[512];
  for (char **e = envp; *e != NULL; e++) {
    if (strncmp(*e, "DIAMOND_", 8) != 0) continue;
    const char *eq = strchr(*e, '=');
    if (eq == NULL) continue;
    size_t nlen = (size_t)(eq - *e);
    const cfg_key *k = NULL;
    for (size_t i = 0; i < dm_cfg_nkeys && k == NULL; i++) {
      dm_cfg_env_name(&dm_cfg_keys[i], name, sizeof name);
      if (strlen(name) == nlen && memcmp(name, *e, nlen) == 0) k = &dm_cfg_keys[i];
    }
    if (k == NULL) {
      char q[160];
      snprintf(name, sizeof name, "%.*s", (int)(nlen < 95 ? nlen : 95), *e);
      dm_log_warn("config_unknown_env", "name=%s msg=\"no such configuration key, ignored\"",
                  dm_log_quote(q, sizeof q, name));
      continue;
    }
    if (dm_cfg_key_set(c, k, eq + 1, why, sizeof why) < 0) {
      snprintf(err, errlen, "environment %.*s: [%s] %s: %s", (int)nlen, *e, k->section,
               k->name, why);
      return DM_EINVAL;
    }
  }
  return 0;
}

/* ---- command line ----------------------------------------------------------------- */

enum { O_CONFIG, O_DATA_DIR, O_HTTP, O_GRAPHITE, O_SET, O_CHECK, O_CREATE, O_DOC, O_HELP,
       O_VERSION };

static const struct opt {
  const char *name;
  int takes_value, id;
} opts[] = {
    {"config", 1, O_CONFIG},      {"data-dir", 1, O_DATA_DIR}, {"http", 1, O_HTTP},
    {"graphite", 1, O_GRAPHITE},  {"set", 1, O_SET},           {"check-config", 0, O_CHECK},
    {"print-doc", 0, O_DOC},      {"help", 0, O_HELP},         {"version", 0, O_VERSION},
    {"create-storage", 0, O_CREATE},
};

/* Reads the option at argv[*i] (and its value, inline or the next argument). */
static int next_opt(int argc, char **argv, int *i, int *id, const char **value, char *err,
                    size_t errlen) {
  const char *a = argv[*i];
  *value = NULL;
  if (strcmp(a, "-h") == 0) return *id = O_HELP, 0;
  if (strncmp(a, "--", 2) != 0) {
    snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", a);
    return DM_EINVAL;
  }
  a += 2;
  const char *eq = strchr(a, '=');
  size_t n = eq ? (size_t)(eq - a) : strlen(a);
  for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
    if (strlen(opts[k].name) != n || strncmp(opts[k].name, a, n) != 0) continue;
    *id = opts[k].id;
    if (!opts[k].takes_value) {
      if (eq == NULL) return 0;
      snprintf(err, errlen, "--%s takes no value", opts[k].name);
      return DM_EINVAL;
    }
    if (eq != NULL) {
      *value = eq + 1;
    } else if (*i + 1 < argc) {
      *value = argv[++*i];
    } else {
      snprintf(err, errlen, "--%s needs a value", opts[k].name);
      return DM_EINVAL;
    }
    return 0;
  }
  snprintf(err, errlen, "unknown option --%.*s (see --help)", (int)n, a);
  return DM_EINVAL;
}

static int apply_set(dm_config *c, const char *arg, char *err, size_t errlen) {
  const char *dot = strchr(arg, '.'), *eq = strchr(arg, '=');
  if (dot == NULL || eq == NULL || dot > eq) {
    snprintf(err, errlen, "--set %s: expected section.key=value", arg);
    return DM_EINVAL;
  }
  char section[64], key[64], msg[512];
  snprintf(section, sizeof section, "%.*s", (int)(dot - arg), arg);
  snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
  int rc = dm_config_set(c, section, key, eq + 1, msg, sizeof msg);
  if (rc < 0) snprintf(err, errlen, "--set %s: %s", arg, msg);
  return rc;
}

static int set_flag(dm_config *c, const char *flag, const char *section, const char *key,
                    const char *value, char *err, size_t errlen) {
  char msg[512];
  int rc = dm_config_set(c, section, key, value, msg, sizeof msg);
  if (rc < 0) snprintf(err, errlen, "--%s: %s", flag, msg);
  return rc;
}

int dm_config_from_args(dm_config *c, int argc, char **argv, int *action, char *err,
                        size_t errlen) {
  *action = DM_ACTION_RUN;
  dm_config_defaults(c);
  const char *config_path = NULL, *value;
  int id, rc = 0, first_rc = 0;
  char msg[768];
  /* Pass 1: syntax, the file to load, and the actions that need no configuration. */
  for (int i = 1; i < argc; i++) {
    rc = next_opt(argc, argv, &i, &id, &value, msg, sizeof msg);
    if (rc < 0) {
      if (first_rc == 0) snprintf(err, errlen, "%s", msg);
      if (first_rc == 0) first_rc = rc;
      continue;
    }
    if (id == O_HELP) *action = DM_ACTION_HELP;
    if (id == O_VERSION && *action != DM_ACTION_HELP) *action = DM_ACTION_VERSION;
    if (id == O_DOC && *action == DM_ACTION_RUN) *action = DM_ACTION_DOC;
    if (id == O_CONFIG) config_path = value;
  }
  if (*action == DM_ACTION_HELP || *action == DM_ACTION_VERSION || *action == DM_ACTION_DOC)
    return 0;
  if (first_rc < 0) return first_rc;
  if (config_path != NULL && (rc = dm_config_load_file(c, config_path, err, errlen)) < 0)
    return rc;
  if ((rc = dm_config_load_env(c, NULL, err, errlen)) < 0) return rc;
  /* Pass 2: flags, in order, over file and environment. */
  for (int i = 1; i < argc; i++) {
    next_opt(argc, argv, &i, &id, &value, msg, sizeof msg);
    switch (id) {
    case O_DATA_DIR:
      rc = set_flag(c, "data-dir", "server", "data_dir", value, err, errlen);
      break;
    case O_HTTP: rc = set_flag(c, "http", "server", "http", value, err, errlen); break;
    case O_GRAPHITE:
      rc = set_flag(c, "graphite", "graphite", "listen", value, err, errlen);
      break;
    case O_SET: rc = apply_set(c, value, err, errlen); break;
    case O_CHECK: *action = DM_ACTION_CHECK; break;
    case O_CREATE: *action = DM_ACTION_CREATE; break;
    default: break;
    }
    if (rc < 0) return rc;
  }
  return dm_config_validate(c, err, errlen);
}

void dm_config_usage(FILE *out) {
  fputs("usage: diamondd [options]\n"
        "\n"
        "A time-series database server: Mackerel and Graphite APIs over HTTP, Graphite\n"
        "plaintext over TCP. Hot tier: memory + WAL or Redis; warm: LMDB or DynamoDB;\n"
        "cold: blob files or S3.\n"
        "\n"
        "options (--flag value and --flag=value both work):\n"
        "  --config FILE          load an INI file (see conf/diamond.ini)\n"
        "  --data-dir DIR         [server] data_dir (default ./data)\n"
        "  --http ADDR            [server] http listen address (default 127.0.0.1:8080)\n"
        "  --graphite ADDR        [graphite] listen address, or off (default 127.0.0.1:2003)\n"
        "  --set SECTION.KEY=VAL  set any key, e.g. --set wal.fsync=interval (repeatable)\n"
        "  --check-config         validate, print the effective configuration, reach every\n"
        "                         configured tier, say which one failed and why; exit 0 or 1\n"
        "  --create-storage       create what is missing (DynamoDB table with TTL, S3 bucket)\n"
        "                         and exit 0, or 1 naming the tier that failed\n"
        "  --print-doc            print every key with its help and default (an INI file)\n"
        "  --help, -h             this text\n"
        "  --version              print the version and exit\n"
        "\n"
        "Every key can also be set as DIAMOND_<SECTION>_<KEY>, e.g. DIAMOND_WAL_FSYNC=off.\n"
        "Precedence, lowest first: default < --config file < environment < flags.\n",
        out);
}
