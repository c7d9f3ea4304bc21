/* crc.h — CRC-32C (Castagnoli), used by WAL records and blob footers. */
#ifndef DIAMOND_CRC_H
#define DIAMOND_CRC_H

#include <stddef.h>
#include <stdint.h>

/* crc = dm_crc32c(0, buf, len); chainable: dm_crc32c(dm_crc32c(0, a, n), b, m). */
uint32_t dm_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
