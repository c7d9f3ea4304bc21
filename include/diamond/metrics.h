/* metrics.h — the process's own metrics, rendered as Prometheus text on GET /metrics.
 *
 * Counters and histograms are registered once by name + label set and updated through the
 * returned pointer (atomic adds: the WAL writer thread updates some). Gauges are callbacks
 * read at scrape time.
 */
#ifndef DIAMOND_METRICS_H
#define DIAMOND_METRICS_H

#include <stdint.h>

#include "diamond/buf.h"

typedef struct dm_counter dm_counter;
typedef struct dm_histogram dm_histogram;

/* name: "diamond_points_total"; labels: "" or `source="http"`. Same name+labels -> same
 * counter. help is shown once per name. Never returns NULL (aborts on OOM at startup). */
dm_counter *dm_metric_counter(const char *name, const char *labels, const char *help);
void dm_counter_add(dm_counter *c, uint64_t n);
uint64_t dm_counter_get(const dm_counter *c);

/* Buckets in seconds: 100us .. 10s exponential. */
dm_histogram *dm_metric_histogram(const char *name, const char *labels, const char *help);
void dm_histogram_observe(dm_histogram *h, double seconds);

typedef double (*dm_gauge_fn)(void *arg);
void dm_metric_gauge(const char *name, const char *labels, const char *help, dm_gauge_fn fn,
                     void *arg);

/* A counter whose value a callback reads at scrape time (e.g. CPU seconds from /proc). */
void dm_metric_counter_fn(const char *name, const char *labels, const char *help,
                          dm_gauge_fn fn, void *arg);

/* Renders everything in the text exposition format (version 0.0.4). */
void dm_metrics_render(dm_buf *out);
/* Forgets every metric (tests). */
void dm_metrics_reset(void);

#endif
