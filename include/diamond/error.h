/* error.h — diamond's error codes: negative ints returned by every fallible call.
 *
 * A function returns 0 (or a count) on success and one of these on failure. The text a
 * user sees is built where the context is known (which point, which field); dm_strerror()
 * only names the code.
 */
#ifndef DIAMOND_ERROR_H
#define DIAMOND_ERROR_H

enum {
  DM_OK = 0,
  DM_EINVAL = -1,     /* bad argument or bad input */
  DM_ENOMEM = -2,     /* allocation failed */
  DM_EIO = -3,        /* read/write/fsync failed */
  DM_EBUSY = -4,      /* backpressure: try again later */
  DM_ENOENT = -5,     /* no such item / file / series */
  DM_ECORRUPT = -6,   /* checksum or format mismatch */
  DM_ERANGE = -7,     /* over a configured limit */
  DM_ECLOSED = -8,    /* the object is closing or closed */
  DM_EAGAIN = -9,     /* transient failure, retryable */
  DM_ECONFLICT = -10, /* optimistic-concurrency conflict */
};

const char *dm_strerror(int code);

#endif
