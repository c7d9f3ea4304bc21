/* crc.h — CRC-32C (Castagnoli), used by WAL records and blob footers.
 *
 * dm_crc32c() picks the SSE4.2 crc32 instruction when the CPU has it and a slicing-by-8
 * table otherwise; both give the same result. Thread-safe, no set-up call needed.
 */
#ifndef DIAMOND_CRC_H
#define DIAMOND_CRC_H

#include <stddef.h>
#include <stdint.h>

/* crc = dm_crc32c(0, buf, len); chainable: dm_crc32c(dm_crc32c(0, a, n), b, m).
 * dm_crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t dm_crc32c(uint32_t crc, const void *buf, size_t len);

/* The two implementations behind dm_crc32c(), exposed for tests and benchmarks.
 * dm_crc32c_hw() may be called only when dm_crc32c_hw_available() returns 1. */
uint32_t dm_crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t dm_crc32c_hw(uint32_t crc, const void *buf, size_t len);
int dm_crc32c_hw_available(void);

#endif
