/* metrics.c — the remote client's metric series (the list is in aws.h).
 *
 * Counters and the histogram are registered at open, per (backend, op) for the op-labelled
 * ones; the registry hands the same series to a later client of the same backend. The
 * in-flight gauge is a callback the registry keeps forever, so its argument cannot be the
 * client (freed at close): it is a slot of a static per-backend table that every client of
 * that backend adds to and subtracts from.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "aws_int.h"

#define MAX_BACKENDS 8

typedef struct gauge_slot {
  char backend[32];
  _Atomic int64_t inflight;
} gauge_slot;

static gauge_slot slots[MAX_BACKENDS + 1]; /* the last one is shared by any further backend */
static size_t nslots;

static double read_gauge(void *arg) {
  return (double)atomic_load_explicit(&((gauge_slot *)arg)->inflight, memory_order_relaxed);
}

/* Labels may hold letters, digits, '_', '-' and '.'; anything else would need escaping. */
int aws_label_ok(const char *s) {
  if (s == NULL || *s == '\0' || strlen(s) >= 32) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_' || *s == '-' || *s == '.'))
      return 0;
  return 1;
}

static gauge_slot *slot_for(const char *backend) {
  for (size_t i = 0; i < nslots; i++)
    if (strcmp(slots[i].backend, backend) == 0) return &slots[i];
  gauge_slot *s = nslots < MAX_BACKENDS ? &slots[nslots++] : &slots[MAX_BACKENDS];
  if (s->backend[0] == '\0') snprintf(s->backend, sizeof s->backend, "%s", backend);
  return s;
}

static void register_op(dm_aws *a, aws_op_metrics *m, const char *op) {
  char labels[128];
  snprintf(m->name, sizeof m->name, "%s", op);
  snprintf(labels, sizeof labels, "backend=\"%s\",op=\"%s\"", a->backend, op);
  m->requests = dm_metric_counter("diamond_remote_requests_total", labels,
                                  "Requests sent to a remote backend (every try counts).");
  m->errors = dm_metric_counter("diamond_remote_errors_total", labels,
                                "Tries to a remote backend that failed (any status but ok).");
}

void aws_metrics_init(dm_aws *a, const char *const *ops) {
  aws_metrics *m = &a->m;
  char labels[64];
  snprintf(labels, sizeof labels, "backend=\"%s\"", a->backend);
  m->retries = dm_metric_counter("diamond_remote_retries_total", labels,
                                 "Tries scheduled again after throttling, 5xx or a timeout.");
  m->throttles = dm_metric_counter("diamond_remote_throttles_total", labels,
                                   "Tries the remote service throttled (429, SlowDown, ...).");
  m->bytes_out = dm_metric_counter("diamond_remote_bytes_out_total", labels,
                                   "Request body bytes sent to a remote backend.");
  m->bytes_in = dm_metric_counter("diamond_remote_bytes_in_total", labels,
                                  "Response body bytes received from a remote backend.");
  m->seconds = dm_metric_histogram("diamond_remote_request_seconds", labels,
                                   "Duration of one try to a remote backend.");
  gauge_slot *g = slot_for(a->backend);
  m->gauge = g;
  dm_metric_gauge("diamond_remote_inflight", labels, "Requests on the wire to a remote backend.",
                  read_gauge, g);
  register_op(a, &m->ops[AWS_MAX_OPS], "other");
  m->fixed = ops != NULL;
  for (; ops != NULL && *ops != NULL && m->nops < AWS_MAX_OPS; ops++)
    if (aws_label_ok(*ops)) register_op(a, &m->ops[m->nops++], *ops);
}

int aws_metrics_op(dm_aws *a, const char *op) {
  aws_metrics *m = &a->m;
  if (!aws_label_ok(op)) return AWS_MAX_OPS;
  for (size_t i = 0; i < m->nops; i++)
    if (strcmp(m->ops[i].name, op) == 0) return (int)i;
  if (m->fixed || m->nops == AWS_MAX_OPS) return AWS_MAX_OPS;
  register_op(a, &m->ops[m->nops], op);
  return (int)m->nops++;
}

void aws_metrics_inflight(dm_aws *a, int delta) {
  atomic_fetch_add_explicit(&((gauge_slot *)a->m.gauge)->inflight, delta, memory_order_relaxed);
}
