/* crc32c.c — CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) for WAL records and
 * blob footers.
 *
 * Two implementations give identical results. On x86-64 CPUs with SSE4.2 the crc32
 * instruction does 8 bytes per step; that function alone is compiled for SSE4.2, so the
 * binary still runs on older CPUs, where the portable slicing-by-8 table code (8 table
 * lookups per 8 bytes) is used instead. The choice and the table are made once, on first
 * use, under pthread_once.
 */
#include "diamond/crc.h"

#include <pthread.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86_CRC 1
#include <nmmintrin.h>
#endif

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static int use_hw;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (POLY & (0u - (c & 1)));
    table[0][i] = c;
  }
  for (int k = 1; k < 8; k++)
    for (int i = 0; i < 256; i++)
      table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xff];
#ifdef HAVE_X86_CRC
  __builtin_cpu_init();
  use_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
}

static inline uint64_t load_le64(const uint8_t *p) {
  return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
         (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
         (uint64_t)p[7] << 56;
}

uint32_t dm_crc32c_sw(uint32_t crc, const void *buf, size_t len) {
  pthread_once(&once, init);
  const uint8_t *p = buf;
  uint32_t c = ~crc;
  while (len > 0 && ((uintptr_t)p & 7) != 0) {
    c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    len--;
  }
  while (len >= 8) {
    uint64_t w = load_le64(p) ^ c;
    c = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
        table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
        table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
    p += 8;
    len -= 8;
  }
  while (len > 0) {
    c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    len--;
  }
  return ~c;
}

#ifdef HAVE_X86_CRC
__attribute__((target("sse4.2"))) uint32_t dm_crc32c_hw(uint32_t crc, const void *buf,
                                                         size_t len) {
  const uint8_t *p = buf;
  uint32_t c = ~crc;
  while (len > 0 && ((uintptr_t)p & 7) != 0) {
    c = _mm_crc32_u8(c, *p++);
    len--;
  }
  uint64_t c64 = c;
  while (len >= 8) {
    c64 = _mm_crc32_u64(c64, load_le64(p));
    p += 8;
    len -= 8;
  }
  c = (uint32_t)c64;
  while (len > 0) {
    c = _mm_crc32_u8(c, *p++);
    len--;
  }
  return ~c;
}
#else
uint32_t dm_crc32c_hw(uint32_t crc, const void *buf, size_t len) {
  return dm_crc32c_sw(crc, buf, len);
}
#endif

int dm_crc32c_hw_available(void) {
  pthread_once(&once, init);
  return use_hw;
}

uint32_t dm_crc32c(uint32_t crc, const void *buf, size_t len) {
  pthread_once(&once, init);
  return use_hw ? dm_crc32c_hw(crc, buf, len) : dm_crc32c_sw(crc, buf, len);
}
