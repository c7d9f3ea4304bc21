/* dynamodb_items.c — keys and item bodies of the DynamoDB table (the layout is the essay
 * at the top of dynamodb.c) and the ttl rule. Pure functions: no I/O, thread-safe.
 */
#include <stdio.h>
#include <string.h>

#include "diamond/names.h"
#include "diamond/timefmt.h"
#include "dynamodb_int.h"

static int64_t sat_add(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
  if (b < 0 && a < INT64_MIN - b) return INT64_MIN;
  return a + b;
}

int64_t ddb_ttl(int64_t window_end, int64_t now, int64_t keep, int64_t grace) {
  int64_t by_window = sat_add(sat_add(window_end, keep), grace);
  int64_t by_now = sat_add(now, grace);
  return by_window > by_now ? by_window : by_now;
}

int64_t ddb_hash63(const char *s, size_t len) {
  return (int64_t)(dm_name_hash(s, len) & (uint64_t)INT64_MAX);
}

/* YYYY-MM-DD, or d<number> where dm_day_format cannot say it (years beyond 0..9999), so
 * that no two days ever share a key. */
static void day_str(char out[24], int64_t day) {
  int64_t year;
  int month, mday;
  dm_civil_from_days(day, &year, &month, &mday);
  if (year >= 0 && year <= 9999) {
    char d[11];
    dm_day_format(day, d);
    memcpy(out, d, 11);
  } else {
    snprintf(out, 24, "d%lld", (long long)day);
  }
}

size_t ddb_manifest_pk(char *out, int64_t day, uint32_t shard) {
  char d[24];
  day_str(d, day);
  return (size_t)snprintf(out, 48, "~m:%s:%u", d, shard);
}

size_t ddb_aged_pk(char *out, int64_t day, uint32_t shard) {
  char d[24];
  day_str(d, day);
  return (size_t)snprintf(out, 48, "~aged:%s:%u", d, shard);
}

size_t ddb_names_pk(char *out, uint32_t shard) {
  return (size_t)snprintf(out, 48, "~n:%u", shard);
}

int64_t ddb_clamp_day(int64_t day) {
  const int64_t lim = INT64_MAX / DDB_SHARD_MUL - 1;
  return day > lim ? lim : day < -lim ? -lim : day;
}

int64_t ddb_pending_sk(dm_dayshard ds) {
  return ddb_clamp_day(ds.day) * DDB_SHARD_MUL + (int64_t)ds.shard;
}

dm_dayshard ddb_pending_ds(int64_t sk) {
  int64_t day = sk / DDB_SHARD_MUL, rem = sk % DDB_SHARD_MUL;
  if (rem < 0) rem += DDB_SHARD_MUL, day--;
  return (dm_dayshard){day, (uint32_t)rem};
}

static void num_attr(dm_buf *b, const char *name, int64_t v) {
  dm_buf_printf(b, ",\"%s\":{\"N\":\"", name);
  dm_buf_i64(b, v);
  dm_buf_adds(b, "\"}");
}

static void key_attrs(dm_buf *b, const char *pk, size_t pk_len, int64_t sk) {
  dm_buf_adds(b, "{\"pk\":{\"S\":");
  dm_buf_json_str(b, pk, pk_len);
  dm_buf_adds(b, "}");
  num_attr(b, "sk", sk);
}

void ddb_item_data(dm_buf *b, const char *series, size_t len, int64_t start,
                   const uint8_t *chunk, size_t chunk_len, uint32_t count, int64_t ver,
                   int64_t ttl) {
  key_attrs(b, series, len, start);
  dm_buf_adds(b, ",\"v\":{\"B\":\"");
  ddb_b64_add(b, chunk, chunk_len);
  dm_buf_adds(b, "\"}");
  num_attr(b, "n", count);
  num_attr(b, "ver", ver);
  num_attr(b, "ttl", ttl);
  dm_buf_adds(b, "}");
}

void ddb_item_name(dm_buf *b, const char *pk, size_t pk_len, int64_t hash, const char *series,
                   size_t len, int64_t ttl) {
  key_attrs(b, pk, pk_len, hash);
  dm_buf_adds(b, ",\"name\":{\"S\":");
  dm_buf_json_str(b, series, len);
  dm_buf_adds(b, "}");
  num_attr(b, "ttl", ttl);
  dm_buf_adds(b, "}");
}

size_t ddb_data_item_size(size_t series_len, size_t chunk_len) {
  /* names pk sk v n ver ttl: 12 bytes; four numbers: at most 21 bytes each */
  return series_len + chunk_len + 12 + 4 * 21;
}
