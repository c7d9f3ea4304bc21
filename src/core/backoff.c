/* backoff.c — capped exponential backoff with full jitter (backoff.h). */
#include <stdlib.h>

#include "diamond/backoff.h"

uint64_t dm_backoff_ceil_ms(uint32_t attempt, uint64_t base_ms, uint64_t cap_ms) {
  uint64_t ceil = base_ms;
  for (uint32_t i = 0; i < attempt && ceil < cap_ms; i++) ceil *= 2;
  return ceil > cap_ms ? cap_ms : ceil;
}

uint64_t dm_backoff_ms(uint32_t attempt, uint64_t base_ms, uint64_t cap_ms) {
  uint64_t ceil = dm_backoff_ceil_ms(attempt, base_ms, cap_ms);
  if (ceil == 0) return 0;
  /* random() gives 31 bits; two draws cover any ceiling a config allows */
  uint64_t r = ((uint64_t)random() << 31) ^ (uint64_t)random();
  return r % (ceil + 1);
}
