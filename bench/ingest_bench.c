/* ingest_bench.c — parse speed of the Mackerel JSON parser and the Graphite line parser on
 * one core: a realistic 5000-point batch parsed over and over. The peer, when jansson is
 * installed (scripts/deps.sh --bench), is a DOM parse of the same body with jansson
 * followed by the walk that fills the same batch: what the ingest path would cost without
 * a streaming parser.
 *
 *   make build && build/dm_ingest_bench [points] [seconds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diamond/ingest.h"
#include "diamond/point.h"

#ifdef DM_HAVE_JANSSON
#include <jansson.h>

/* The DOM peer: parse, then walk the array into the batch (types checked, names built). */
static int jansson_parse(const char *body, size_t len, dm_batch *b) {
  json_error_t jerr;
  json_t *root = json_loadb(body, len, 0, &jerr);
  if (root == NULL || !json_is_array(root)) return -1;
  size_t i;
  json_t *p;
  char name[512];
  json_array_foreach(root, i, p) {
    json_t *h = json_object_get(p, "hostId"), *n = json_object_get(p, "name");
    json_t *t = json_object_get(p, "time"), *v = json_object_get(p, "value");
    if (!json_is_string(h) || !json_is_string(n) || !json_is_integer(t) || !json_is_number(v))
      break;
    int nl = snprintf(name, sizeof name, "host.%s.%s", json_string_value(h),
                      json_string_value(n));
    int64_t ts = json_integer_value(t);
    dm_batch_add(b, name, (size_t)nl, ts - ts % 60, json_number_value(v));
  }
  json_decref(root);
  return 0;
}
#endif

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *metrics[] = {
    "custom.nginx.requests.total", "custom.nginx.requests.per_sec", "cpu.user.percentage",
    "cpu.system.percentage", "memory.used", "memory.cached", "loadavg5",
    "filesystem.sda1.used", "interface.eth0.rxBytes.delta", "disk.sda.reads.delta",
};

/* mackerel-agent-like batch: 50 hosts x 10 metrics x 10 minutes. */
static char *make_json(size_t points, size_t *len) {
  char *s = malloc(points * 160 + 2);
  size_t n = 0;
  unsigned x = 12345;
  s[n++] = '[';
  for (size_t i = 0; i < points; i++) {
    x = x * 1103515245u + 12345u;
    n += (size_t)sprintf(s + n,
                         "%s{\"hostId\":\"2eQGEaL%04zu\",\"name\":\"%s\",\"time\":%zu,"
                         "\"value\":%u.%03u}",
                         i ? "," : "", (i / 100) % 50, metrics[i % 10],
                         (size_t)1700000000 + (i % 10) * 60, (x >> 8) % 100000, x % 1000);
  }
  s[n++] = ']';
  s[n] = '\0';
  *len = n;
  return s;
}

static char *make_lines(size_t points, size_t *len) {
  char *s = malloc(points * 120 + 1);
  size_t n = 0;
  unsigned x = 12345;
  for (size_t i = 0; i < points; i++) {
    x = x * 1103515245u + 12345u;
    n += (size_t)sprintf(s + n, "servers.web%03zu.%s %u.%03u %zu\n", (i / 100) % 50,
                         metrics[i % 10], (x >> 8) % 100000, x % 1000,
                         (size_t)1700000000 + (i % 10) * 60);
  }
  *len = n;
  return s;
}

int main(int argc, char **argv) {
  size_t points = argc > 1 ? (size_t)atol(argv[1]) : 5000;
  double secs = argc > 2 ? atof(argv[2]) : 2.0;
  dm_ingest_limits lim = {.max_points = points, .max_name_len = 256, .step = 60,
                          .min_time = 1600000000, .max_time = 1800000000};
  dm_batch b;
  char err[256];
  size_t len;
  dm_batch_init(&b);

  char *body = make_json(points, &len);
  size_t iters = 0;
  double t0 = now_s(), t;
  do {
    dm_batch_reset(&b);
    if (dm_ingest_mackerel(body, len, NULL, &lim, &b, err, sizeof err) != 0) {
      fprintf(stderr, "parse failed: %s\n", err);
      return 1;
    }
    iters++;
  } while ((t = now_s() - t0) < secs);
  printf("mackerel json: %zu points, %zu bytes/batch (%.1f B/point): %.0f MB/s, "
         "%.2f M points/s, %.0f ns/point\n",
         points, len, (double)len / (double)points, (double)(len * iters) / t / 1e6,
         (double)(points * iters) / t / 1e6, t * 1e9 / (double)(points * iters));
#ifdef DM_HAVE_JANSSON
  iters = 0;
  t0 = now_s();
  do {
    dm_batch_reset(&b);
    if (jansson_parse(body, len, &b) != 0 || b.n != points) {
      fprintf(stderr, "jansson parse failed\n");
      return 1;
    }
    iters++;
  } while ((t = now_s() - t0) < secs);
  printf("  peer: jansson DOM + walk: %.0f MB/s, %.2f M points/s, %.0f ns/point\n",
         (double)(len * iters) / t / 1e6, (double)(points * iters) / t / 1e6,
         t * 1e9 / (double)(points * iters));
#else
  printf("  peer: jansson not installed (scripts/deps.sh --bench), not measured\n");
#endif
  free(body);

  char *text = make_lines(points, &len);
  iters = 0;
  t0 = now_s();
  do {
    dm_batch_reset(&b);
    for (char *p = text, *end = text + len; p < end;) {
      char *nl = memchr(p, '\n', (size_t)(end - p));
      if (dm_ingest_graphite_line(p, (size_t)(nl - p), 1700000000, &lim, &b, err,
                                  sizeof err) != 1) {
        fprintf(stderr, "line failed: %s\n", err);
        return 1;
      }
      p = nl + 1;
    }
    iters++;
  } while ((t = now_s() - t0) < secs);
  printf("graphite text: %zu points, %zu bytes/batch (%.1f B/point): %.0f MB/s, "
         "%.2f M points/s, %.0f ns/point\n",
         points, len, (double)len / (double)points, (double)(len * iters) / t / 1e6,
         (double)(points * iters) / t / 1e6, t * 1e9 / (double)(points * iters));
  free(text);
  dm_batch_free(&b);
  return 0;
}
