/* test_wal_replay.c — reading the WAL back after damage: a torn last record (file cut
 * mid-record, garbage appended, a bit flipped in the last payload), a torn or zeroed
 * header and an empty last segment are cut off and logged while the rest replays;
 * damage in an earlier segment, a bad header or an undecodable record is DM_ECORRUPT;
 * the record crc (empty payload included) and a replay callback that stops. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "diamond/error.h"
#include "diamond/wal.h"

typedef struct fx {
  char dir[64];
  uv_loop_t loop;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/dm_walr_XXXXXX");
  if (mkdtemp(f->dir) == NULL) return -1;
  uv_loop_init(&f->loop);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  uv_run(&f->loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&f->loop);
  DIR *d = opendir(f->dir);
  struct dirent *de;
  char p[512];
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", f->dir, de->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(f->dir);
  free(f);
  return rc == 0 ? 0 : -1;
}

static void fill(dm_batch *b, int k, int n) {
  dm_batch_reset(b);
  char name[32];
  for (int i = 0; i < n; i++) {
    int len = snprintf(name, sizeof name, "r.%d.%d", k, i);
    assert_int_equal(dm_batch_add(b, name, (size_t)len, 1700000000 + 60 * i, k * 1000 + i), 0);
  }
}

static void on_done(void *arg, int status, uint64_t seg) {
  (void)seg;
  *(int *)arg = status;
}

/* Writes `per_seg` records of 4 points into each of `nseg` segments (1..nseg) and closes.
 * Returns the size of one record. */
static size_t write_segments(fx *f, int nseg, int per_seg) {
  dm_wal_opts o = {.dir = f->dir, .fsync = DM_FSYNC_ALWAYS};
  dm_wal *w;
  assert_int_equal(dm_wal_open(&w, &f->loop, &o), 0);
  dm_batch b;
  dm_batch_init(&b);
  int k = 0, st[64];
  for (int s = 0; s < nseg; s++) {
    for (int i = 0; i < per_seg; i++) {
      fill(&b, ++k, 4);
      st[k - 1] = 1;
      assert_int_equal(dm_wal_append(w, &b, on_done, &st[k - 1]), 0);
    }
    dm_wal_rotate(w);
  }
  uv_run(&f->loop, UV_RUN_DEFAULT);
  for (int i = 0; i < k; i++) assert_int_equal(st[i], 0);
  size_t r = DM_WAL_RECORD_BYTES + dm_batch_encoded_size(&b);
  dm_wal_close(w);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  dm_batch_free(&b);
  return r;
}

static void seg_path(fx *f, uint64_t seq, char *p, size_t n) {
  snprintf(p, n, "%s/%020llu.log", f->dir, (unsigned long long)seq);
}

static long long seg_size(fx *f, uint64_t seq) {
  char p[256];
  struct stat st;
  seg_path(f, seq, p, sizeof p);
  return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

static void seg_truncate(fx *f, uint64_t seq, long long size) {
  char p[256];
  seg_path(f, seq, p, sizeof p);
  assert_int_equal(truncate(p, size), 0);
}

static void seg_write_at(fx *f, uint64_t seq, long long off, const void *data, size_t n) {
  char p[256];
  seg_path(f, seq, p, sizeof p);
  int fd = open(p, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, data, n, off), (ssize_t)n);
  close(fd);
}

static void seg_flip_bit(fx *f, uint64_t seq, long long off) {
  char p[256];
  seg_path(f, seq, p, sizeof p);
  int fd = open(p, O_RDWR);
  unsigned char c;
  assert_int_equal(pread(fd, &c, 1, off), 1);
  c ^= 0x10;
  assert_int_equal(pwrite(fd, &c, 1, off), 1);
  close(fd);
}

typedef struct got {
  int n, k[64];
  uint64_t seg[64];
  int stop_at;
} got;

static int collect(void *arg, const dm_batch *b, uint64_t seg) {
  got *g = arg;
  if (g->stop_at > 0 && g->n + 1 == g->stop_at) return DM_ENOMEM;
  assert_int_equal(b->n, 4);
  g->k[g->n] = (int)(b->e[0].v / 1000);
  g->seg[g->n] = seg;
  g->n++;
  return 0;
}

/* Replays f->dir with stderr captured into log (NUL-terminated). */
static int replay_logged(fx *f, got *g, uint64_t *recs, char *log, size_t loglen) {
  char lp[128];
  snprintf(lp, sizeof lp, "%s/stderr.txt", f->dir);
  fflush(stderr);
  int saved = dup(2);
  int fd = open(lp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  dup2(fd, 2);
  close(fd);
  dm_wal_opts o = {.dir = f->dir, .fsync = DM_FSYNC_ALWAYS};
  dm_wal *w;
  int rc = dm_wal_open(&w, &f->loop, &o);
  if (rc == 0) {
    rc = dm_wal_replay(w, collect, g, recs, NULL);
    dm_wal_close(w);
    uv_run(&f->loop, UV_RUN_DEFAULT);
  }
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  FILE *fp = fopen(lp, "r");
  size_t n = fread(log, 1, loglen - 1, fp);
  log[n] = '\0';
  fclose(fp);
  unlink(lp);
  fputs(log, stderr); /* keep it visible in the test output */
  return rc;
}

/* ---- tests ---- */

static void test_record_crc(void **state) {
  (void)state;
  /* crc32c over the four length bytes only: 00 00 00 00 */
  assert_int_equal(dm_wal_record_crc(NULL, 0), 0x48674BC7u);
  assert_int_equal(dm_wal_record_crc("", 0), 0x48674BC7u);
  /* 09 00 00 00 "123456789" */
  assert_int_equal(dm_wal_record_crc("123456789", 9), 0x5717D278u);
}

static void test_torn_cut_mid_record(void **state) {
  fx *f = *state;
  size_t r = write_segments(f, 1, 3);
  long long full = DM_WAL_HEADER_BYTES + 3 * (long long)r;
  assert_int_equal(seg_size(f, 1), full);
  seg_truncate(f, 1, full - 3);
  got g = {0};
  uint64_t recs;
  char log[4096], want[160];
  assert_int_equal(replay_logged(f, &g, &recs, log, sizeof log), 0);
  assert_int_equal(recs, 2);
  assert_int_equal(g.k[0], 1);
  assert_int_equal(g.k[1], 2);
  long long good = DM_WAL_HEADER_BYTES + 2 * (long long)r;
  snprintf(want, sizeof want, "level=warn event=wal_torn_tail segment=1 offset=%lld dropped_bytes=%lld\n",
           good, (long long)r - 3);
  assert_non_null(strstr(log, want));
  assert_int_equal(seg_size(f, 1), good);
  /* the cut is durable and clean: a second replay finds nothing to cut */
  got g2 = {0};
  assert_int_equal(replay_logged(f, &g2, &recs, log, sizeof log), 0);
  assert_int_equal(recs, 2);
  assert_null(strstr(log, "wal_torn_tail"));
}

static void test_torn_garbage(void **state) {
  fx *f = *state;
  size_t r = write_segments(f, 2, 2); /* segments 1 and 2 */
  long long full = DM_WAL_HEADER_BYTES + 2 * (long long)r;
  unsigned char junk[37];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 37 + 11);
  seg_write_at(f, 2, full, junk, sizeof junk);
  got g = {0};
  uint64_t recs;
  char log[4096], want[160];
  assert_int_equal(replay_logged(f, &g, &recs, log, sizeof log), 0);
  assert_int_equal(recs, 4);
  for (int i = 0; i < 4; i++) assert_int_equal(g.k[i], i + 1);
  assert_int_equal(g.seg[1], 1);
  assert_int_equal(g.seg[2], 2);
  snprintf(want, sizeof want, "event=wal_torn_tail segment=2 offset=%lld dropped_bytes=37\n", full);
  assert_non_null(strstr(log, want));
  assert_int_equal(seg_size(f, 2), full);
  /* after replay new appends go to segment 3 */
  dm_wal_opts o = {.dir = f->dir};
  dm_wal *w;
  assert_int_equal(dm_wal_open(&w, &f->loop, &o), 0);
  assert_int_equal(dm_wal_current_seg(w), 3);
  dm_wal_close(w);
  uv_run(&f->loop, UV_RUN_DEFAULT);
}

static void test_torn_bit_flip(void **state) {
  fx *f = *state;
  size_t r = write_segments(f, 1, 3);
  long long full = DM_WAL_HEADER_BYTES + 3 * (long long)r;
  seg_flip_bit(f, 1, full - 1); /* the last byte of the last payload */
  got g = {0};
  uint64_t recs;
  char log[4096], want[160];
  assert_int_equal(replay_logged(f, &g, &recs, log, sizeof log), 0);
  assert_int_equal(recs, 2);
  snprintf(want, sizeof want, "event=wal_torn_tail segment=1 offset=%lld dropped_bytes=%zu\n",
           full - (long long)r, r);
  assert_non_null(strstr(log, want));
  assert_int_equal(seg_size(f, 1), full - (long long)r);
}

static void test_torn_length_field(void **state) {
  fx *f = *state;
  size_t r = write_segments(f, 1, 2);
  /* a length pointing past the end of the file */
  unsigned char big[4] = {0xff, 0xff, 0xff, 0x7f};
  seg_write_at(f, 1, DM_WAL_HEADER_BYTES + (long long)r, big, 4);
  got g = {0};
  uint64_t recs;
  char log[4096];
  assert_int_equal(replay_logged(f, &g, &recs, log, sizeof log), 0);
  assert_int_equal(recs, 1);
  assert_int_equal(seg_size(f, 1), DM_WAL_HEADER_BYTES + (long long)r);
}

static void test_torn_header_and_empty_last(void **state) {
  fx *f = *state;
  write_segments(f, 1, 2);
  char p[256];
  /* segment 2: 7 bytes of a header (crash while creating) */
  seg_path(f, 2, p, sizeof p);
  FILE *fp = fopen(p, "w");
  fwrite("DMWAL1\0", 1, 7, fp);
  fclose(fp);
  got g = {0};
  uint64_t recs;
  char log[4096];
  assert_int_equal(replay_logged(f, &g, &recs, log, sizeof log), 0);
  assert_int_equal(recs, 2);
  assert_non_null(strstr(log, "event=wal_torn_tail segment=2 offset=0 dropped_bytes=7\n"));
  assert_int_equal(seg_size(f, 2), 0);
  /* zero-length last segment: fine, nothing logged */
  got g2 = {0};
  assert_int_equal(replay_logged(f, &g2, &recs, log, sizeof log), 0);
  assert_int_equal(recs, 2);
  assert_null(strstr(log, "wal_torn_tail"));
  /* a full header of zeros (metadata reached disk, data did not) */
  unsigned char zeros[DM_WAL_HEADER_BYTES] = {0};
  seg_write_at(f, 2, 0, zeros, sizeof zeros);
  got g3 = {0};
  assert_int_equal(replay_logged(f, &g3, &recs, log, sizeof log), 0);
  assert_int_equal(recs, 2);
  assert_non_null(strstr(log, "event=wal_torn_tail segment=2 offset=0 dropped_bytes=16\n"));
}

static void test_corrupt_middle_segment(void **state) {
  fx *f = *state;
  size_t r = write_segments(f, 3, 2);
  long long full = DM_WAL_HEADER_BYTES + 2 * (long long)r;
  seg_flip_bit(f, 2, full - 1);
  got g = {0};
  uint64_t recs;
  char log[4096], want[160];
  assert_int_equal(replay_logged(f, &g, &recs, log, sizeof log), DM_ECORRUPT);
  assert_int_equal(g.n, 3); /* segment 1 and the first record of 2 were delivered */
  snprintf(want, sizeof want, "event=wal_corrupt segment=2 offset=%lld bytes=%zu", full - (long long)r, r);
  assert_non_null(strstr(log, want));
  assert_int_equal(seg_size(f, 2), full); /* nothing cut */
  assert_null(strstr(log, "wal_torn_tail"));
  seg_flip_bit(f, 2, full - 1); /* repaired */

  /* a short middle segment is corrupt too */
  seg_truncate(f, 1, full - 1);
  got g2 = {0};
  assert_int_equal(replay_logged(f, &g2, &recs, log, sizeof log), DM_ECORRUPT);
  assert_int_equal(g2.n, 1);
}

static void test_bad_header(void **state) {
  fx *f = *state;
  write_segments(f, 2, 1);
  /* a segment whose header names another seq (copied or renamed file) */
  char a[256], b[256];
  seg_path(f, 2, a, sizeof a);
  seg_path(f, 5, b, sizeof b);
  assert_int_equal(rename(a, b), 0);
  got g = {0};
  uint64_t recs;
  char log[4096];
  assert_int_equal(replay_logged(f, &g, &recs, log, sizeof log), DM_ECORRUPT);
  assert_non_null(strstr(log, "event=wal_corrupt segment=5 offset=0"));
  assert_int_equal(rename(b, a), 0);
  /* wrong magic in the first segment */
  seg_write_at(f, 1, 0, "XXWAL1", 6);
  got g2 = {0};
  assert_int_equal(replay_logged(f, &g2, &recs, log, sizeof log), DM_ECORRUPT);
  assert_int_equal(g2.n, 0);
}

static void test_undecodable_record(void **state) {
  fx *f = *state;
  size_t r = write_segments(f, 1, 1);
  /* a record whose crc is right but whose payload claims 5 points in 1 byte */
  unsigned char rec[DM_WAL_RECORD_BYTES + 1] = {1, 0, 0, 0, 0, 0, 0, 0, 5};
  uint32_t crc = dm_wal_record_crc(rec + DM_WAL_RECORD_BYTES, 1);
  for (int i = 0; i < 4; i++) rec[4 + i] = (unsigned char)(crc >> (8 * i));
  long long end = DM_WAL_HEADER_BYTES + (long long)r;
  seg_write_at(f, 1, end, rec, sizeof rec);
  got g = {0};
  uint64_t recs;
  char log[4096], want[160];
  assert_int_equal(replay_logged(f, &g, &recs, log, sizeof log), DM_ECORRUPT);
  assert_int_equal(g.n, 1);
  snprintf(want, sizeof want, "event=wal_corrupt segment=1 offset=%lld error=\"undecodable record\"", end);
  assert_non_null(strstr(log, want));
  assert_int_equal(seg_size(f, 1), end + (long long)sizeof rec); /* not cut: not a torn write */
}

static void test_replay_callback_stops(void **state) {
  fx *f = *state;
  write_segments(f, 1, 3);
  got g = {.stop_at = 2};
  uint64_t recs;
  char log[4096];
  assert_int_equal(replay_logged(f, &g, &recs, log, sizeof log), DM_ENOMEM);
  assert_int_equal(g.n, 1);
  assert_int_equal(recs, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_crc),
      cmocka_unit_test_setup_teardown(test_torn_cut_mid_record, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_garbage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_bit_flip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_length_field, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_header_and_empty_last, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_middle_segment, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_header, setup, teardown),
      cmocka_unit_test_setup_teardown(test_undecodable_record, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replay_callback_stops, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
