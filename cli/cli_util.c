/* cli_util.c — input, atomic output, progress (see cli_util.h). */
#include "cli/cli_util.h"
#include "lib/lib_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static _Thread_local char g_why[512];

double vdm_cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

vdm_status vdm_cli_read_all(const char *path, uint64_t max_bytes, uint8_t **buf, size_t *size,
                            const char **why)
{
    *buf = NULL;
    *size = 0;
    *why = "";
    int is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(g_why, sizeof g_why, "cannot open: %s", strerror(errno));
        *why = g_why;
        return VDM_ERR_IO;
    }
    if (!is_stdin) {
        struct stat sb;
        if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
            fclose(f);
            *why = "is a directory";
            return VDM_ERR_IO;
        }
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    vdm_status st = b ? VDM_OK : VDM_ERR_NOMEM;
    while (st == VDM_OK) {
        if (n == cap) {
            if ((uint64_t)cap > max_bytes) break;
            uint8_t *nb = realloc(b, cap * 2);
            if (!nb) { st = VDM_ERR_NOMEM; break; }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (st == VDM_OK && ferror(f)) {
        snprintf(g_why, sizeof g_why, "read error: %s", strerror(errno));
        *why = g_why;
        st = VDM_ERR_IO;
    }
    if (st == VDM_OK && (uint64_t)n > max_bytes) {
        snprintf(g_why, sizeof g_why, "input is larger than the %llu-byte limit",
                 (unsigned long long)max_bytes);
        *why = g_why;
        st = VDM_ERR_LIMIT;
    }
    if (!is_stdin) fclose(f);
    if (st != VDM_OK) { free(b); return st; }
    *buf = b;
    *size = n;
    return VDM_OK;
}

int vdm_cli_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

int vdm_cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) || stat(b, &sb)) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int vdm_cli_stdout_is_tty(void) { return isatty(STDOUT_FILENO); }

/* ---- atomic output ----------------------------------------------------- */

/* The temporary files being written, for the signal handler: one slot per
 * output in flight (--jobs runs up to 64 at once).  A slot is taken under
 * g_tmp_mu; the handler only reads paths whose slot is marked active. */
#define TMP_SLOTS 80
static char g_tmp_path[TMP_SLOTS][4096];
static volatile sig_atomic_t g_tmp_active[TMP_SLOTS];
static int g_tmp_taken[TMP_SLOTS];
static pthread_mutex_t g_tmp_mu = PTHREAD_MUTEX_INITIALIZER;
static mode_t g_umask;

static void on_signal(int sig)
{
    for (int i = 0; i < TMP_SLOTS; i++)
        if (g_tmp_active[i]) unlink(g_tmp_path[i]);   /* async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_once(void)
{
    /* umask() can only be read by setting it: once, before any worker
     * could create a file meanwhile */
    g_umask = umask(0);
    umask(g_umask);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
}

static void install_handlers(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_once);
}

static int take_slot(void)
{
    pthread_mutex_lock(&g_tmp_mu);
    int k = -1;
    for (int i = 0; i < TMP_SLOTS && k < 0; i++)
        if (!g_tmp_taken[i]) { g_tmp_taken[i] = 1; k = i; }
    pthread_mutex_unlock(&g_tmp_mu);
    return k;
}

static void release_slot(int k)
{
    pthread_mutex_lock(&g_tmp_mu);
    g_tmp_taken[k] = 0;
    pthread_mutex_unlock(&g_tmp_mu);
}

vdm_status vdm_cli_write_atomic(const char *path, const uint8_t *data, size_t size, int force,
                                const char **why)
{
    *why = "";
    if (!strcmp(path, "-")) {
        if (vdm_write_fully(STDOUT_FILENO, data, size)) {
            snprintf(g_why, sizeof g_why, "cannot write to standard output: %s", strerror(errno));
            *why = g_why;
            return VDM_ERR_IO;
        }
        return VDM_OK;
    }
    if (!force && vdm_cli_exists(path)) return VDM_ERR_EXISTS;
    struct stat sb;
    if (force && stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        *why = "output exists and is not a regular file";
        return VDM_ERR_IO;
    }
    /* temp name in the same directory, so rename/link stays on one file system */
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    if (dirlen + strlen(base) + 24 >= sizeof g_tmp_path[0]) {
        *why = "output path too long";
        return VDM_ERR_IO;
    }
    install_handlers();
    int slot = take_slot();
    if (slot < 0) {
        *why = "too many outputs in flight";
        return VDM_ERR_IO;
    }
    char *tmp = g_tmp_path[slot];
    snprintf(tmp, sizeof g_tmp_path[0], "%.*s.%s.XXXXXX", (int)dirlen, path, base);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(g_why, sizeof g_why, "cannot create a file in the output directory: %s",
                 strerror(errno));
        *why = g_why;
        release_slot(slot);
        return VDM_ERR_IO;
    }
    g_tmp_active[slot] = 1;
    /* mkstemp makes 0600; give the usual 0666 & ~umask. */
    mode_t um = g_umask;
    int err = 0;
    if (fchmod(fd, 0666 & ~um)) err = errno;
    if (!err && vdm_write_fully(fd, data, size)) err = errno;
    if (!err && fsync(fd)) err = errno;
    if (close(fd) && !err) err = errno;
    vdm_status st = VDM_OK;
    if (!err) {
        if (force) {
            if (rename(tmp, path)) err = errno;
        } else if (link(tmp, path)) {
            /* link() refuses to replace: no race with a file created meanwhile */
            if (errno == EEXIST) st = VDM_ERR_EXISTS;
            else if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == EXDEV) {
                /* file system without hard links: best effort */
                if (vdm_cli_exists(path)) st = VDM_ERR_EXISTS;
                else if (rename(tmp, path)) err = errno;
            } else {
                err = errno;
            }
        }
    }
    unlink(tmp);   /* after link() (or a failure) the temp name goes */
    g_tmp_active[slot] = 0;
    release_slot(slot);
    if (err) {
        snprintf(g_why, sizeof g_why, "cannot write: %s", strerror(err));
        *why = g_why;
        return VDM_ERR_IO;
    }
    return st;
}

/* ---- progress ------------------------------------------------------------ */

void vdm_cli_progress_init(vdm_cli_progress *p, const char *label, int quiet)
{
    p->label = label;
    p->t0 = vdm_cli_now();
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->shown = 0;
    p->last_pct = -1;
}

int vdm_cli_progress_cb(void *user, double fraction)
{
    vdm_cli_progress *p = user;
    if (!p || !p->enabled) return 0;
    if (!p->shown && vdm_cli_now() - p->t0 < 1.0) return 0;
    int pct = (int)(fraction * 100.0 + 0.5);
    if (pct < 0) pct = 0;
    if (pct > 100) pct = 100;
    if (pct == p->last_pct) return 0;
    p->last_pct = pct;
    p->shown = 1;
    int bars = pct / 5;
    fprintf(stderr, "\r%s [%.*s%*s] %3d%%", p->label, bars, "####################", 20 - bars, "", pct);
    fflush(stderr);
    return 0;
}

void vdm_cli_progress_done(vdm_cli_progress *p)
{
    if (p && p->shown) {
        fprintf(stderr, "\r%*s\r", 60, "");
        fflush(stderr);
        p->shown = 0;
    }
}

char *vdm_cli_default_output(const char *in, const char *strip_ext, const char *add_ext)
{
    size_t n = strlen(in), se = strlen(strip_ext), ae = strlen(add_ext);
    size_t keep = n;
    if (n > se && !strcasecmp(in + n - se, strip_ext) && in[n - se - 1] != '/') keep = n - se;
    char *o = malloc(keep + ae + 1);
    if (!o) return NULL;
    memcpy(o, in, keep);
    memcpy(o + keep, add_ext, ae + 1);
    return o;
}

void vdm_cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}
