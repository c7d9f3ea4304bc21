/* crc16.h — CRC-16/XMODEM (CCITT polynomial 0x1021, initial value 0, no reflection, no
 * final xor): the checksum Redis Cluster hashes keys with (slot = crc16(tag) % 16384).
 * CRC16("123456789") = 0x31C3. */
#ifndef DIAMOND_CRC16_H
#define DIAMOND_CRC16_H

#include <stddef.h>
#include <stdint.h>

uint16_t dm_crc16(const void *data, size_t len);

#endif
