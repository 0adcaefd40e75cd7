/* Runs a fuzz target over files (the seed corpus and every crash found so
 * far) without libFuzzer: `make check` replays them all with the normal
 * compiler and, in the sanitizer build, with ASan and UBSan. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
    fclose(f);
    if (!buf)
        return -1;
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

static int run_path(const char *arg, int *files);

int main(int argc, char **argv)
{
    int files = 0;
    char corpus[4096];
    if (argc == 1) {
        /* Under make check: this target's committed corpus. */
        const char *top = getenv("top_srcdir");
        snprintf(corpus, sizeof(corpus), "%s/tests/fuzz/corpus/%s", top ? top : ".", FUZZ_NAME);
        if (run_path(corpus, &files) < 0)
            return 1;
    }
    for (int i = 1; i < argc; i++)
        if (run_path(argv[i], &files) < 0)
            return 1;
    /* Random inputs on top of the corpus, from a fixed seed. */
    srand(1234);
    uint8_t buf[2048];
    for (int k = 0; k < 2000; k++) {
        size_t n = (size_t)rand() % sizeof(buf);
        for (size_t j = 0; j < n; j++)
            buf[j] = (uint8_t)rand();
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("%d corpus files and 2000 random inputs replayed\n", files);
    printf("1 passed, 0 failed\n");
    return 0;
}

static int run_path(const char *arg, int *files)
{
    DIR *d = opendir(arg);
    if (!d) {
        if (run_file(arg) < 0) {
            fprintf(stderr, "cannot read %s\n", arg);
            return -1;
        }
        (*files)++;
        return 0;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", arg, e->d_name);
        rc = run_file(path);
        if (rc < 0)
            fprintf(stderr, "cannot read %s\n", path);
        else
            (*files)++;
    }
    closedir(d);
    return rc;
}
