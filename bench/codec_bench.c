/* codec_bench.c — speed and size of the chunk codec (and crc32c) on synthetic series.
 *
 * Prints, for each data shape and chunk size (a 60-point window as in the table, a
 * 1440-point day as in a blob): encode and decode rates in million points per second and
 * bytes per point. Nothing is asserted; numbers go to the README.
 *
 *   build: add_executable(dm_codec_bench bench/codec_bench.c)
 *          target_link_libraries(dm_codec_bench dm_codec m)
 *   run:   ./build/dm_codec_bench [series]     (default 2000 series)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diamond/crc.h"
#include "diamond/gorilla.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static double rnd01(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum { COUNTER_CONST, COUNTER, GAUGE, RANDOM, NSHAPES };
static const char *shape_name[NSHAPES] = {
    "counter, constant increment", "counter, rate +- noise (ints)",
    "gauge, 2-decimal random walk", "random doubles (worst case)"};

static void fill(dm_point *p, size_t n, int shape) {
  int64_t t = 1700000000 - 1700000000 % 86400;
  double v = shape == GAUGE ? 50.0 : (double)(rnd() % 1000000);
  double rate = (double)(rnd() % 5000);
  for (size_t i = 0; i < n; i++) {
    p[i].t = t + 60 * (int64_t)i;
    switch (shape) {
    case COUNTER_CONST: v += 10; break;
    case COUNTER: v += rate + (double)(rnd() % 100); break;
    case GAUGE:
      v = round((v + (rnd01() - 0.5)) * 100.0) / 100.0;
      break;
    default: v = (rnd01() - 0.5) * 1e6; break;
    }
    p[i].v = v;
  }
}

/* xor_only: encode as the Gorilla paper does (the baseline), else diamond's choice. */
static void run(int shape, size_t per_chunk, size_t series, int xor_only) {
  size_t npts = per_chunk * series, bound = dm_chunk_bound(per_chunk);
  dm_point *pts = malloc(npts * sizeof *pts), *out = malloc(per_chunk * sizeof *out);
  uint8_t *buf = malloc(series * bound);
  size_t *len = malloc(series * sizeof *len);
  if (!pts || !out || !buf || !len) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  for (size_t s = 0; s < series; s++) fill(pts + s * per_chunk, per_chunk, shape);

  int reps = 5;
  double t0 = now_s();
  size_t bytes = 0;
  for (int r = 0; r < reps; r++) {
    bytes = 0;
    for (size_t s = 0; s < series; s++) {
      int rc = (xor_only ? dm_chunk_encode_xor : dm_chunk_encode)(pts + s * per_chunk,
                                                                  per_chunk, buf + s * bound,
                                                                  bound);
      if (rc < 0) {
        fprintf(stderr, "encode failed: %d\n", rc);
        exit(1);
      }
      len[s] = (size_t)rc;
      bytes += (size_t)rc;
    }
  }
  double enc = now_s() - t0;

  t0 = now_s();
  double sink = 0;
  for (int r = 0; r < reps * 4; r++) {
    for (size_t s = 0; s < series; s++) {
      int rc = dm_chunk_decode(buf + s * bound, len[s], out, per_chunk);
      if (rc != (int)per_chunk) {
        fprintf(stderr, "decode failed: %d\n", rc);
        exit(1);
      }
      sink += out[per_chunk - 1].v;
    }
  }
  double dec = now_s() - t0;
  for (size_t s = 0; s < series; s++) {
    int rc = dm_chunk_decode(buf + s * bound, len[s], out, per_chunk);
    if (rc < 0 || memcmp(out, pts + s * per_chunk, per_chunk * sizeof *out) != 0) {
      fprintf(stderr, "round trip mismatch\n");
      exit(1);
    }
  }
  printf("%-31s %-11s %5zu pts/chunk  encode %7.1f Mpt/s  decode %7.1f Mpt/s  %6.3f B/pt%s\n",
         shape_name[shape], xor_only ? "gorilla-xor" : "diamond", per_chunk, (double)npts * reps / enc / 1e6,
         (double)npts * reps * 4 / dec / 1e6, (double)bytes / (double)npts,
         sink == 12345.678 ? " " : "");
  free(pts);
  free(out);
  free(buf);
  free(len);
}

static void crc_bench(void) {
  size_t n = 1 << 20;
  uint8_t *b = malloc(n);
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)rnd();
  uint32_t c = 0;
  double t0 = now_s();
  for (int r = 0; r < 200; r++) c = dm_crc32c_sw(c, b, n);
  double sw = now_s() - t0;
  double hw = 0;
  if (dm_crc32c_hw_available()) {
    t0 = now_s();
    for (int r = 0; r < 200; r++) c = dm_crc32c_hw(c, b, n);
    hw = now_s() - t0;
  }
  printf("crc32c: slicing-by-8 %.2f GB/s, sse4.2 %s%.2f GB/s (%08x)\n", 200.0 * n / sw / 1e9,
         hw > 0 ? "" : "n/a ", hw > 0 ? 200.0 * n / hw / 1e9 : 0.0, c);
  free(b);
}

int main(int argc, char **argv) {
  size_t series = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 2000;
  if (series == 0) series = 1;
  for (int shape = 0; shape < NSHAPES; shape++) {
    for (int x = 0; x < 2; x++) {
      run(shape, 60, series * 24, x);
      run(shape, 1440, series, x);
    }
  }
  crc_bench();
  return 0;
}
