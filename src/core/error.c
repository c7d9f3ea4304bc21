/* error.c — names of the DM_E* codes. */
#include "diamond/error.h"

const char *dm_strerror(int code) {
  switch (code) {
  case DM_OK: return "ok";
  case DM_EINVAL: return "invalid argument";
  case DM_ENOMEM: return "out of memory";
  case DM_EIO: return "i/o error";
  case DM_EBUSY: return "busy, try again later";
  case DM_ENOENT: return "not found";
  case DM_ECORRUPT: return "corrupt data";
  case DM_ERANGE: return "over a limit";
  case DM_ECLOSED: return "closed";
  case DM_EAGAIN: return "temporary failure";
  case DM_ECONFLICT: return "conflict";
  default: return "unknown error";
  }
}
