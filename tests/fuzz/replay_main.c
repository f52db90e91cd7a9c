/* replay_main.c — runs a libFuzzer target over stored inputs, without libFuzzer.
 *
 * usage: fuzz_xxx PATH...   each PATH is a file or a directory of files (not
 * recursive; names starting with '.' are skipped; files run in name order).
 * Exit status: 0 when every input ran; 1 when a path is missing or unreadable
 * or a directory holds no inputs (an empty corpus would make the test pass
 * without testing anything); 2 on usage errors.  A target that finds a bug
 * aborts, as under libFuzzer.  Shared by every tests/fuzz/fuzz_*.c. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path, unsigned long *ran)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "replay: cannot open %s\n", path); return 1; }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) { fclose(f); fprintf(stderr, "replay: out of memory\n"); return 1; }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *b = realloc(buf, cap * 2);
        if (!b) free(buf);
        buf = b;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (err) { free(buf); fprintf(stderr, "replay: read error on %s\n", path); return 1; }
    /* an exact-size copy, so ASan catches reads past the input's end */
    uint8_t *in = malloc(n ? n : 1);
    if (!in) { free(buf); fprintf(stderr, "replay: out of memory\n"); return 1; }
    memcpy(in, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(in, n);
    free(in);
    (*ran)++;
    return 0;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int run_dir(const char *dir, unsigned long *ran)
{
    DIR *d = opendir(dir);
    if (!d) { fprintf(stderr, "replay: cannot open directory %s\n", dir); return 1; }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) { rc = 1; break; }
            names = nn;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (!names[n]) { rc = 1; break; }
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (rc) fprintf(stderr, "replay: out of memory\n");
    if (n) qsort(names, n, sizeof *names, cmp_names);
    unsigned long before = *ran;
    for (size_t i = 0; i < n && !rc; i++) {
        struct stat st;
        if (stat(names[i], &st) != 0) { fprintf(stderr, "replay: cannot stat %s\n", names[i]); rc = 1; break; }
        if (S_ISREG(st.st_mode)) rc |= run_file(names[i], ran);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (!rc && *ran == before) { fprintf(stderr, "replay: no inputs in %s\n", dir); rc = 1; }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    unsigned long ran = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { fprintf(stderr, "replay: %s does not exist\n", argv[i]); rc = 1; continue; }
        rc |= S_ISDIR(st.st_mode) ? run_dir(argv[i], &ran) : run_file(argv[i], &ran);
    }
    printf("replay: ran %lu input%s\n", ran, ran == 1 ? "" : "s");
    return rc ? 1 : 0;
}
