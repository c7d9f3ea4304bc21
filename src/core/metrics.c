/* metrics.c — registry of counters, histograms and gauges, rendered as Prometheus text.
 *
 * Registration takes a mutex and is expected at start-up or on first use of a label set;
 * updates are relaxed atomic adds so any thread may count. Rendering groups the series of
 * one name under a single HELP/TYPE header, names in registration order (a series whose
 * kind differs from the first of its name is left out: one family has one type).
 */
#include "diamond/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS 16 /* 100us * 2.5^i ... */

typedef enum { K_COUNTER, K_HISTOGRAM, K_GAUGE, K_COUNTER_FN } kind_t;

struct dm_counter {
  _Atomic uint64_t v;
};

struct dm_histogram {
  _Atomic uint64_t buckets[NBUCKETS];
  _Atomic uint64_t count;
  _Atomic uint64_t sum_ns;
};

typedef struct metric {
  kind_t kind;
  char *name, *labels, *help;
  union {
    struct dm_counter c;
    struct dm_histogram h;
  } u;
  dm_gauge_fn fn;
  void *arg;
  struct metric *next;
} metric;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static metric *head, *tail;
static double bounds[NBUCKETS];

static metric *find_or_add(kind_t kind, const char *name, const char *labels, const char *help) {
  pthread_mutex_lock(&reg_mu);
  for (metric *m = head; m != NULL; m = m->next) {
    if (strcmp(m->name, name) == 0 && strcmp(m->labels, labels) == 0) {
      pthread_mutex_unlock(&reg_mu);
      return m;
    }
  }
  metric *m = calloc(1, sizeof *m);
  if (m == NULL || (m->name = strdup(name)) == NULL || (m->labels = strdup(labels)) == NULL ||
      (m->help = strdup(help ? help : "")) == NULL) {
    fprintf(stderr, "diamond: out of memory registering metric %s\n", name);
    abort();
  }
  m->kind = kind;
  if (bounds[0] == 0) {
    double b = 0.0001;
    for (int i = 0; i < NBUCKETS; i++, b *= 2.5) bounds[i] = b;
  }
  if (tail) tail->next = m;
  else head = m;
  tail = m;
  pthread_mutex_unlock(&reg_mu);
  return m;
}

dm_counter *dm_metric_counter(const char *name, const char *labels, const char *help) {
  return &find_or_add(K_COUNTER, name, labels, help)->u.c;
}

void dm_counter_add(dm_counter *c, uint64_t n) {
  atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

uint64_t dm_counter_get(const dm_counter *c) {
  return atomic_load_explicit(&((dm_counter *)c)->v, memory_order_relaxed);
}

dm_histogram *dm_metric_histogram(const char *name, const char *labels, const char *help) {
  return &find_or_add(K_HISTOGRAM, name, labels, help)->u.h;
}

void dm_histogram_observe(dm_histogram *h, double seconds) {
  if (!(seconds >= 0)) seconds = 0; /* a clock step back, or NaN: a negative to uint64 is UB */
  int i = 0;
  while (i < NBUCKETS && seconds > bounds[i]) i++;
  if (i < NBUCKETS) atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)(seconds * 1e9), memory_order_relaxed);
}

void dm_metric_gauge(const char *name, const char *labels, const char *help, dm_gauge_fn fn,
                     void *arg) {
  metric *m = find_or_add(K_GAUGE, name, labels, help);
  m->fn = fn;
  m->arg = arg;
}

void dm_metric_counter_fn(const char *name, const char *labels, const char *help,
                          dm_gauge_fn fn, void *arg) {
  metric *m = find_or_add(K_COUNTER_FN, name, labels, help);
  m->fn = fn;
  m->arg = arg;
}

static void series_name(dm_buf *out, const char *name, const char *suffix, const char *labels,
                        const char *extra) {
  dm_buf_printf(out, "%s%s", name, suffix);
  if (labels[0] || (extra && extra[0])) {
    dm_buf_printf(out, "{%s%s%s}", labels, (labels[0] && extra && extra[0]) ? "," : "",
                  extra ? extra : "");
  }
}

static void render_one(dm_buf *out, const metric *m) {
  switch (m->kind) {
  case K_COUNTER:
    series_name(out, m->name, "", m->labels, NULL);
    dm_buf_printf(out, " %llu\n", (unsigned long long)dm_counter_get(&m->u.c));
    break;
  case K_GAUGE:
  case K_COUNTER_FN: {
    double v = m->fn ? m->fn(m->arg) : 0;
    series_name(out, m->name, "", m->labels, NULL);
    dm_buf_printf(out, " %.17g\n", v);
    break;
  }
  case K_HISTOGRAM: {
    uint64_t cum = 0;
    char le[48];
    for (int i = 0; i < NBUCKETS; i++) {
      cum += atomic_load_explicit(&m->u.h.buckets[i], memory_order_relaxed);
      snprintf(le, sizeof le, "le=\"%g\"", bounds[i]);
      series_name(out, m->name, "_bucket", m->labels, le);
      dm_buf_printf(out, " %llu\n", (unsigned long long)cum);
    }
    uint64_t count = atomic_load_explicit(&m->u.h.count, memory_order_relaxed);
    series_name(out, m->name, "_bucket", m->labels, "le=\"+Inf\"");
    dm_buf_printf(out, " %llu\n", (unsigned long long)count);
    series_name(out, m->name, "_sum", m->labels, NULL);
    dm_buf_printf(out, " %.9f\n",
                  (double)atomic_load_explicit(&m->u.h.sum_ns, memory_order_relaxed) / 1e9);
    series_name(out, m->name, "_count", m->labels, NULL);
    dm_buf_printf(out, " %llu\n", (unsigned long long)count);
    break;
  }
  }
}

/* One family per name: its HELP and TYPE once, then every label set of that name, even
 * when they were registered apart (label sets first seen at run time, another module's
 * series of the same name): the text format wants a family's samples together. */
void dm_metrics_render(dm_buf *out) {
  static const char *const types[] = {"counter", "histogram", "gauge", "counter"};
  pthread_mutex_lock(&reg_mu);
  for (metric *m = head; m != NULL; m = m->next) {
    int first = 1;
    for (metric *p = head; p != m && first; p = p->next)
      if (strcmp(p->name, m->name) == 0) first = 0;
    if (!first) continue; /* rendered with its family */
    dm_buf_printf(out, "# HELP %s ", m->name);
    for (const char *h = m->help; *h; h++) { /* HELP escapes backslash and newline */
      if (*h == '\\') dm_buf_add(out, "\\\\", 2);
      else if (*h == '\n') dm_buf_add(out, "\\n", 2);
      else dm_buf_add(out, h, 1);
    }
    dm_buf_printf(out, "\n# TYPE %s %s\n", m->name, types[m->kind]);
    for (metric *p = m; p != NULL; p = p->next)
      if (p == m || (strcmp(p->name, m->name) == 0 && p->kind == m->kind)) render_one(out, p);
  }
  pthread_mutex_unlock(&reg_mu);
}

void dm_metrics_reset(void) {
  pthread_mutex_lock(&reg_mu);
  metric *m = head;
  while (m != NULL) {
    metric *next = m->next;
    free(m->name);
    free(m->labels);
    free(m->help);
    free(m);
    m = next;
  }
  head = tail = NULL;
  pthread_mutex_unlock(&reg_mu);
}
