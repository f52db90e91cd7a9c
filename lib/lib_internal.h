/* lib_internal.h — helpers of the public API layer (lib/) that programs
 * built on the internal layers (cli/) may share.  Not installed. */
#ifndef VDM_LIB_INTERNAL_H
#define VDM_LIB_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "common/vdm_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Write data to path so that the file either appears complete or not at
 * all: a new file in path's folder (unique name ".BASE.vdmzip-PID-N", mode
 * 0666 & ~umask), written, flushed to disk, then linked (overwrite == 0:
 * never replaces a file, also one created meanwhile) or renamed (overwrite)
 * into place; the temporary name is removed on every path.  Thread-safe (no
 * umask games, no signal handlers: a program that wants its temporary file
 * removed on SIGINT keeps its own handler).  Errors: VDM_ERR_EXISTS,
 * VDM_ERR_IO (why, if non-NULL, gets a short reason), VDM_ERR_ARG. */
/* write(2) all n bytes, retrying short writes and EINTR: 0, or -1 with errno. */
int vdm_write_fully(int fd, const uint8_t *p, size_t n);

vdm_status vdm_write_file_atomic(const char *path, const void *data, size_t size, int overwrite,
                                 char *why, size_t why_cap);

#ifdef __cplusplus
}
#endif
#endif
