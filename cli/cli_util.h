/* cli_util.h — helpers shared by the CLI subcommands: whole-file input with
 * "-" for stdin, atomic output files, a progress line on a terminal.
 *
 * Output invariant: a named output file either appears complete (written to
 * a temporary file in the same directory, flushed, then linked/renamed into
 * place) or not at all; an existing file is never replaced without force.
 * The temporary file is removed on every failure path, and by a SIGINT /
 * SIGTERM / SIGHUP handler if the user interrupts. */
#ifndef VDM_CLI_UTIL_H
#define VDM_CLI_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "common/vdm_common.h"

/* Read a whole file, or stdin for "-".  *buf (malloc) is freed by the caller.
 * On failure *why gets a short reason (static or thread-local storage). */
vdm_status vdm_cli_read_all(const char *path, uint64_t max_bytes, uint8_t **buf, size_t *size,
                            const char **why);

/* Write data to path atomically ("-": stdout).  force: replace an existing
 * file.  Errors: VDM_ERR_EXISTS (exists, no force), VDM_ERR_IO (*why set). */
vdm_status vdm_cli_write_atomic(const char *path, const uint8_t *data, size_t size, int force,
                                const char **why);

/* 1 if path exists (any kind of file). */
int vdm_cli_exists(const char *path);
/* 1 if a and b name the same existing file. */
int vdm_cli_same_file(const char *a, const char *b);
/* 1 if stdout / stderr is a terminal. */
int vdm_cli_stdout_is_tty(void);

/* Progress line on stderr: shown only when stderr is a terminal, quiet is 0
 * and the work has run longer than one second; vdm_cli_progress_done()
 * clears it.  Use vdm_cli_progress_cb as a vdm_progress_fn with a
 * vdm_cli_progress as its user pointer. */
typedef struct vdm_cli_progress {
    const char *label;
    double t0;
    int enabled, shown, last_pct;
} vdm_cli_progress;
void vdm_cli_progress_init(vdm_cli_progress *p, const char *label, int quiet);
int vdm_cli_progress_cb(void *user, double fraction);   /* always 0 (never cancels) */
void vdm_cli_progress_done(vdm_cli_progress *p);

/* Monotonic seconds. */
double vdm_cli_now(void);

/* Default output name: strip `strip_ext` (case-insensitive) from in if it
 * ends with it, then append add_ext.  Returns malloc'd string (caller frees)
 * or NULL on OOM. */
char *vdm_cli_default_output(const char *in, const char *strip_ext, const char *add_ext);

/* Write s as a JSON string literal (quotes, backslashes and control
 * characters escaped). */
void vdm_cli_json_string(FILE *f, const char *s);

#endif
