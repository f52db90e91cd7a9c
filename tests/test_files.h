/* test_files.h — reading a whole file in a Criterion test (the test fails,
 * naming the path, when it cannot be read).  Static: include it from the test
 * files that need it; the caller frees the buffer. */
#ifndef VDM_TEST_FILES_H
#define VDM_TEST_FILES_H
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static __attribute__((unused)) uint8_t *tst_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long sz = ftell(f);
    cr_assert(sz >= 0, "cannot size %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_SET), 0);
    uint8_t *b = malloc(sz > 0 ? (size_t)sz : 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)sz, f), (size_t)sz, "cannot read %s", path);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

#endif
