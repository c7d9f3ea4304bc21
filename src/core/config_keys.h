/* config_keys.h — private to src/core/config*.c: the table of configuration keys and the
 * helpers that read and write one key of a dm_config through it. */
#ifndef DIAMOND_CONFIG_KEYS_H
#define DIAMOND_CONFIG_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "diamond/config.h"

typedef enum {
  KT_STR,         /* char[size] */
  KT_INT,         /* int64_t, plain integer */
  KT_SIZE,        /* int64_t bytes: "64k", "32m", "1g" (1024-based) */
  KT_DURATION,    /* int64_t seconds: "90s", "15m", "3h", "14d" */
  KT_DURATION_MS, /* int64_t milliseconds: "200", "200ms", "2s" */
  KT_BOOL,        /* int: yes/no */
  KT_ENUM,        /* one of choices: an int index (size == sizeof(int)) or char[size] */
} key_type;

/* A value check beyond the type (addresses, auth keys): 0 or DM_EINVAL with a reason. */
typedef int (*key_check_fn)(const char *value, char *why, size_t whylen);

typedef struct cfg_key {
  const char *section;
  const char *name;
  key_type type;
  const char *def;     /* default, written as a user would; parsed by the same code */
  int64_t min, max;    /* bounds for numeric types */
  const char *choices; /* KT_ENUM: "always|interval|off" */
  const char *later;   /* KT_ENUM: values planned but not built yet, for the message */
  key_check_fn check;
  size_t off, size;    /* where in dm_config */
  int secret;          /* masked by dm_config_print */
  const char *help;
} cfg_key;

extern const cfg_key dm_cfg_keys[];
extern const size_t dm_cfg_nkeys;

const cfg_key *dm_cfg_find(const char *section, const char *name);
int dm_cfg_section_known(const char *section);
/* Parses value into c's field; on error writes the reason ("must be ...") into why. */
int dm_cfg_key_set(dm_config *c, const cfg_key *k, const char *value, char *why,
                   size_t whylen);
/* Formats c's field as the config file would write it. */
void dm_cfg_key_format(const dm_config *c, const cfg_key *k, char *out, size_t outlen);
/* Formats a number of type t ("64m", "14d", "200") for values and messages. */
void dm_cfg_format_number(key_type t, int64_t v, char *out, size_t outlen);
/* Checks one key's current value in c against its type, bounds and check (validate). */
int dm_cfg_key_recheck(const dm_config *c, const cfg_key *k, char *why, size_t whylen);
/* The environment variable of a key: DIAMOND_<SECTION>_<KEY>. */
void dm_cfg_env_name(const cfg_key *k, char *out, size_t outlen);

/* Checks used in the table (config_check.c). */
int dm_cfg_check_listen(const char *value, char *why, size_t whylen);
int dm_cfg_check_listen_or_off(const char *value, char *why, size_t whylen);
int dm_cfg_check_auth_keys(const char *value, char *why, size_t whylen);
/* config_remote.c */
int dm_cfg_check_node_id(const char *value, char *why, size_t whylen);
int dm_cfg_check_seeds(const char *value, char *why, size_t whylen);
int dm_cfg_check_url_or_empty(const char *value, char *why, size_t whylen);
int dm_cfg_check_region(const char *value, char *why, size_t whylen);
int dm_cfg_check_table_name(const char *value, char *why, size_t whylen);
int dm_cfg_check_bucket(const char *value, char *why, size_t whylen);
int dm_cfg_check_prefix(const char *value, char *why, size_t whylen);
int dm_cfg_check_price(const char *value, char *why, size_t whylen);
/* Cross-key rules of the remote engines (dm_config_validate calls it). */
int dm_cfg_validate_remote(const dm_config *c, char *err, size_t errlen);

#endif
