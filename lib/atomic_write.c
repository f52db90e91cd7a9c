/* atomic_write.c — complete-or-absent output files (lib_internal.h). */
#include "lib/lib_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void set_why(char *why, size_t cap, const char *what, int err)
{
    if (!why || !cap) return;
    if (err) snprintf(why, cap, "%s: %s", what, strerror(err));
    else snprintf(why, cap, "%s", what);
}

int vdm_write_fully(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

vdm_status vdm_write_file_atomic(const char *path, const void *data, size_t size, int overwrite,
                                 char *why, size_t why_cap)
{
    static atomic_uint counter;
    if (why && why_cap) why[0] = 0;
    if (!path || !*path || (!data && size)) {
        set_why(why, why_cap, "no output path or data", 0);
        return VDM_ERR_ARG;
    }
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        if (!overwrite) return VDM_ERR_EXISTS;
        if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
            set_why(why, why_cap, "the output exists and is not a regular file", 0);
            return VDM_ERR_IO;
        }
    }
    /* the temporary file sits in the target's folder: one file system, so
     * link()/rename() are atomic */
    const char *slash = strrchr(path, '/');
    const size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    if (!*base) {
        set_why(why, why_cap, "the output path names a folder", 0);
        return VDM_ERR_IO;
    }
    const size_t cap = dirlen + strlen(base) + 64;
    char *tmp = malloc(cap);
    if (!tmp) return VDM_ERR_NOMEM;
    int fd = -1, err = 0;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, cap, "%.*s.%s.vdmzip-%ld-%u", (int)dirlen, path, base, (long)getpid(),
                 atomic_fetch_add(&counter, 1u));
        /* O_EXCL: never reuse a name; 0666 & ~umask as any new file */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        set_why(why, why_cap, "cannot create a file in the output folder", errno);
        free(tmp);
        return VDM_ERR_IO;
    }
    if (vdm_write_fully(fd, data, size)) err = errno;
    if (!err && fsync(fd)) err = errno;
    if (close(fd) && !err) err = errno;
    vdm_status st = VDM_OK;
    if (!err) {
        if (overwrite) {
            if (rename(tmp, path)) err = errno;
        } else if (link(tmp, path)) {
            if (errno == EEXIST) {
                st = VDM_ERR_EXISTS;
            } else if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == EXDEV ||
                       errno == EMLINK) {
                /* a file system without hard links: best effort */
                if (lstat(path, &sb) == 0) st = VDM_ERR_EXISTS;
                else if (rename(tmp, path)) err = errno;
            } else {
                err = errno;
            }
        }
    }
    unlink(tmp);   /* after link() (or any failure) the temporary name goes */
    free(tmp);
    if (err) {
        set_why(why, why_cap, "cannot write the output", err);
        return VDM_ERR_IO;
    }
    return st;
}
