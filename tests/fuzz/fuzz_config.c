/* fuzz_config.c — libFuzzer target for the INI configuration loader (not built by CMake).
 *
 * The input is the file: it is written to a memfd and loaded through its /proc/self/fd path
 * over the defaults by dm_config_load_file (the loader reads a path; inih's own
 * ini_parse_string would skip our line reader). Beyond "no crash": a failure returns
 * DM_EINVAL with a one-line message starting "<path>:"; a success leaves every key with a
 * value its own parser accepts again (dm_cfg_key_recheck, the check --check-config runs),
 * and printing the configuration (dm_config_print, auth keys cleared since they print
 * masked) and loading that output over the defaults gives the same dm_config byte for
 * byte, unless a printed line is longer than the loader accepts.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     -D_GNU_SOURCE -Iinclude tests/fuzz/fuzz_config.c src/core/config.c \
 *     src/core/config_check.c src/core/config_load.c src/core/timefmt.c src/core/log.c \
 *     src/core/error.c -linih -o fuzz_config
 *   mkdir -p corpus && ./fuzz_config -max_total_time=300 -max_len=2048 corpus \
 *     tests/fuzz/corpus/config
 * (or: make fuzz FUZZ_SECONDS=300)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/core/config_keys.h" /* private: the key table, for the recheck */
#include "diamond/config.h"
#include "diamond/error.h"

#define CHECK(c) ((c) ? (void)0 : abort())

static int fd_in = -1, fd_out = -1;
static char path_in[64], path_out[64];

static void put(int fd, const void *p, size_t n) {
  CHECK(ftruncate(fd, 0) == 0);
  CHECK(pwrite(fd, p, n, 0) == (ssize_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fd_in < 0) {
    fd_in = memfd_create("fuzz_config_in", 0);
    fd_out = memfd_create("fuzz_config_out", 0);
    CHECK(fd_in >= 0 && fd_out >= 0);
    snprintf(path_in, sizeof path_in, "/proc/self/fd/%d", fd_in);
    snprintf(path_out, sizeof path_out, "/proc/self/fd/%d", fd_out);
  }
  put(fd_in, data, size);

  static dm_config c, again;
  char err[1024];
  memset(err, 'x', sizeof err);
  dm_config_defaults(&c);
  int rc = dm_config_load_file(&c, path_in, err, sizeof err);
  CHECK(memchr(err, '\0', sizeof err) != NULL || rc == 0);
  if (rc < 0) {
    CHECK(rc == DM_EINVAL);
    size_t pl = strlen(path_in);
    CHECK(strncmp(err, path_in, pl) == 0 && err[pl] == ':' && strlen(err) > pl + 2);
    CHECK(strchr(err, '\n') == NULL);
    return 0;
  }
  char why[512];
  for (size_t i = 0; i < dm_cfg_nkeys; i++)
    CHECK(dm_cfg_key_recheck(&c, &dm_cfg_keys[i], why, sizeof why) == 0);
  (void)dm_config_validate(&c, err, sizeof err);

  memset(c.auth_keys, 0, sizeof c.auth_keys);
  char *text = NULL;
  size_t tlen = 0;
  FILE *out = open_memstream(&text, &tlen);
  CHECK(out != NULL);
  dm_config_print(&c, out);
  CHECK(fclose(out) == 0);
  int long_line = 0;
  for (char *l = text; l != NULL && *l != '\0';) {
    char *nl = strchr(l, '\n');
    size_t n = nl ? (size_t)(nl - l) : strlen(l);
    long_line |= n > 197;
    l = nl ? nl + 1 : NULL;
  }
  put(fd_out, text, tlen);
  free(text);
  dm_config_defaults(&again);
  rc = dm_config_load_file(&again, path_out, err, sizeof err);
  if (!long_line) {
    CHECK(rc == 0);
    CHECK(memcmp(&c, &again, sizeof c) == 0);
  }
  return 0;
}
