/* test_core_metrics.c — the metrics registry rendered as Prometheus text: one HELP/TYPE per
 * name with all of its series together (even when registered apart, labelled and not),
 * HELP escaping, histogram buckets, gauges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diamond/buf.h"
#include "diamond/metrics.h"

static double seven(void *arg) {
  (void)arg;
  return 7;
}

static char *render(void) {
  dm_buf b;
  dm_buf_init(&b);
  dm_metrics_render(&b);
  assert_false(b.oom);
  return dm_buf_steal(&b, NULL);
}

/* Registered a, b, a{x}, g, a{y}: a's three series come together under one header. */
static void families_are_contiguous(void **state) {
  (void)state;
  dm_metrics_reset();
  dm_counter *a = dm_metric_counter("t_a_total", "", "A things.");
  dm_counter *b = dm_metric_counter("t_b_total", "", "B things.");
  dm_counter *ax = dm_metric_counter("t_a_total", "src=\"x\"", "A things, again.");
  dm_metric_gauge("t_g", "", "A gauge.", seven, NULL);
  dm_counter *ay = dm_metric_counter("t_a_total", "src=\"y\",route=\"r\"", NULL);
  assert_ptr_equal(dm_metric_counter("t_a_total", "src=\"x\"", "ignored"), ax);
  dm_counter_add(a, 1);
  dm_counter_add(b, 2);
  dm_counter_add(ax, 3);
  dm_counter_add(ay, 4);
  char *text = render();
  assert_string_equal(text,
                      "# HELP t_a_total A things.\n"
                      "# TYPE t_a_total counter\n"
                      "t_a_total 1\n"
                      "t_a_total{src=\"x\"} 3\n"
                      "t_a_total{src=\"y\",route=\"r\"} 4\n"
                      "# HELP t_b_total B things.\n"
                      "# TYPE t_b_total counter\n"
                      "t_b_total 2\n"
                      "# HELP t_g A gauge.\n"
                      "# TYPE t_g gauge\n"
                      "t_g 7\n");
  free(text);
  dm_metrics_reset();
}

static void help_is_escaped(void **state) {
  (void)state;
  dm_metrics_reset();
  dm_metric_counter("t_e_total", "", "back\\slash and\nnewline");
  char *text = render();
  assert_string_equal(text,
                      "# HELP t_e_total back\\\\slash and\\nnewline\n"
                      "# TYPE t_e_total counter\n"
                      "t_e_total 0\n");
  free(text);
  dm_metrics_reset();
}

static double read_double(void *arg) { return *(double *)arg; }

/* Callback metrics: a gauge and a counter read at scrape time, typed as such. */
static void callback_metrics(void **state) {
  (void)state;
  dm_metrics_reset();
  double v = 7.5;
  dm_metric_gauge("t_g", "", "g", read_double, &v);
  dm_metric_counter_fn("t_c_total", "", "c", read_double, &v);
  char *text = render();
  assert_string_equal(text,
                      "# HELP t_g g\n# TYPE t_g gauge\nt_g 7.5\n"
                      "# HELP t_c_total c\n# TYPE t_c_total counter\nt_c_total 7.5\n");
  free(text);
  dm_metrics_reset();
}

/* A histogram's buckets are cumulative and end with +Inf == _count; a negative duration
 * (clock stepped back) counts in the first bucket instead of wrapping _sum. */
static void histogram(void **state) {
  (void)state;
  dm_metrics_reset();
  dm_histogram *h = dm_metric_histogram("t_h_seconds", "", "H.");
  dm_histogram_observe(h, 0.00005);
  dm_histogram_observe(h, 0.0002);
  dm_histogram_observe(h, 1000);
  dm_histogram_observe(h, -1);
  char *text = render();
  assert_non_null(strstr(text, "# HELP t_h_seconds H.\n# TYPE t_h_seconds histogram\n"
                               "t_h_seconds_bucket{le=\"0.0001\"} 2\n"
                               "t_h_seconds_bucket{le=\"0.00025\"} 3\n"));
  assert_non_null(strstr(text, "t_h_seconds_bucket{le=\"+Inf\"} 4\n"
                               "t_h_seconds_sum 1000.000250000\n"
                               "t_h_seconds_count 4\n"));
  free(text);
  dm_metrics_reset();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(families_are_contiguous),
      cmocka_unit_test(help_is_escaped),
      cmocka_unit_test(histogram),
      cmocka_unit_test(callback_metrics),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
