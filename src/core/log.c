/* log.c — logfmt lines on stderr: ts, level, event, then the caller's key=value pairs. */
#include "diamond/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static dm_log_level min_level = DM_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void dm_log_set_level(dm_log_level lvl) { min_level = lvl; }

int dm_log_parse_level(const char *s, dm_log_level *out) {
  for (int i = 0; i < 4; i++) {
    if (strcmp(s, level_names[i]) == 0) {
      *out = (dm_log_level)i;
      return 0;
    }
  }
  return -1;
}

void dm_log(dm_log_level lvl, const char *event, const char *fmt, ...) {
  if (lvl < min_level) return;
  char line[2048];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, ts.tv_nsec / 1000000, level_names[lvl], event);
  if (fmt != NULL && fmt[0] != '\0' && n > 0 && (size_t)n < sizeof line - 2) {
    line[n++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m > 0) n += m;
  }
  if (n < 0) return;
  if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, (size_t)n);
  (void)w;
}

const char *dm_log_quote(char *buf, unsigned size, const char *s) {
  int needs = (s[0] == '\0');
  for (const char *p = s; *p != '\0' && !needs; p++)
    if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20) needs = 1;
  if (!needs) {
    snprintf(buf, size, "%s", s);
    return buf;
  }
  unsigned o = 0;
  if (size < 3) return "";
  buf[o++] = '"';
  for (const char *p = s; *p != '\0' && o + 3 < size; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '"' || c == '\\') {
      buf[o++] = '\\';
      buf[o++] = (char)c;
    } else if (c < 0x20) {
      buf[o++] = ' ';
    } else {
      buf[o++] = (char)c;
    }
  }
  buf[o++] = '"';
  buf[o] = '\0';
  return buf;
}
