/* test_io: safetensors round trips (bit-exact), every kind of corrupt file, F16/BF16/F64
 * conversion, atomic writes, appends that a full disk cuts back to whole lines (through the
 * ARITH_FAIL_WRITE_AFTER hook), a directory's lock, the removal of dead processes' temporary
 * files, the CSV reader and formatter, and a cross-check of the C writer against
 * tools/read_safetensors.py, an independent standard-library Python reader. All files go to a
 * fresh mkdtemp directory that is removed at the end. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "support.h"
#include "core/core.h"
#include "io/io.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ARITH_SOURCE_DIR
#define ARITH_SOURCE_DIR "."
#endif

static char tmp_dir[] = "/tmp/arith_test_io.XXXXXX";

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmp_dir, name);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write test file %s: %s\n", path, strerror(errno));
        exit(2);
    }
}

static void write_text(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

static int message_has(const char *needle)
{
    return needle == NULL || strstr(arith_error_message(), needle) != NULL;
}

/* The call fails with `code` and its message contains the path and both needles (NULL: none). */
#define CHECK_FAILS(expr, code, path, needle1, needle2)                                    \
    do {                                                                                   \
        arith_status fails_status_ = (expr);                                               \
        CHECK_MSG(fails_status_ == (code), "%s returned %s, not %s: %s", #expr,            \
                  arith_status_name(fails_status_), arith_status_name(code),               \
                  arith_error_message());                                                  \
        CHECK_MSG(message_has(path) && message_has(needle1) && message_has(needle2),       \
                  "message \"%s\" should contain \"%s\", \"%s\" and \"%s\"",               \
                  arith_error_message(), (path), (needle1) ? (needle1) : "",               \
                  (needle2) ? (needle2) : "");                                             \
    } while (0)

static int same_bits(const float *a, const float *b, size_t n)
{
    return n == 0 || memcmp(a, b, n * sizeof *a) == 0;
}

/* A safetensors file from its parts: length prefix `len` (or the header's own length when
 * len == UINT64_MAX), header text, data. */
static void write_st_raw(const char *path, uint64_t len, const char *header, const void *blob,
                         size_t blob_len)
{
    size_t hlen = strlen(header);
    if (len == UINT64_MAX)
        len = hlen;
    uint8_t *buf = malloc(8 + hlen + blob_len + 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(len >> (8 * i));
    memcpy(buf + 8, header, hlen);
    if (blob_len)
        memcpy(buf + 8 + hlen, blob, blob_len);
    write_bytes(path, buf, 8 + hlen + blob_len);
    free(buf);
}

/* Number of entries of tmp_dir whose name contains ".tmp." (leftover temporary files). */
static int count_temp_files(void)
{
    int n = 0;
    DIR *dir = opendir(tmp_dir);
    struct dirent *e;
    while (dir && (e = readdir(dir)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (dir)
        closedir(dir);
    return n;
}

/* ---------------------------------------------------------------------------- raw files */

static void test_files(void)
{
    char path[512], missing[512], dir[512];
    tmp_path(path, sizeof path, "plain.bin");
    tmp_path(missing, sizeof missing, "no_such_dir/x.bin");
    tmp_path(dir, sizeof dir, "a_directory");

    /* overwriting replaces the file wholly, and leaves no temporary file */
    write_text(path, "a long original content that is longer than the new one\n");
    CHECK_OK(io_write_file_atomic(path, "short", 5));
    char *data = NULL;
    size_t size = 0;
    CHECK_OK(io_read_file(path, &data, &size));
    CHECK_EQ_INT(size, 5);
    CHECK(data && memcmp(data, "short", 5) == 0 && data[5] == '\0');
    free(data);
    CHECK_EQ_INT(count_temp_files(), 0);

    /* an empty file */
    CHECK_OK(io_write_file_atomic(path, "", 0));
    CHECK_OK(io_read_file(path, &data, &size));
    CHECK_EQ_INT(size, 0);
    CHECK(data && data[0] == '\0');
    free(data);

    /* a missing directory: a clean failure naming the path */
    CHECK_FAILS(io_write_file_atomic(missing, "x", 1), ARITH_ERR_IO, missing,
                "No such file or directory", NULL);
    CHECK_EQ_INT(count_temp_files(), 0);

    /* the rename fails (the target is a non-empty directory): the temporary file, already
     * written and synced, must be removed and the directory left as it was */
    CHECK(mkdir(dir, 0777) == 0);
    char inside[600];
    snprintf(inside, sizeof inside, "%s/keep", dir);
    write_text(inside, "keep");
    CHECK_FAILS(io_write_file_atomic(dir, "data", 4), ARITH_ERR_IO, dir, "rename", NULL);
    CHECK_EQ_INT(count_temp_files(), 0);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK(stat(inside, &st) == 0 && st.st_size == 4);

    /* reading */
    CHECK_FAILS(io_read_file(missing, &data, &size), ARITH_ERR_IO, missing, "cannot open", NULL);
    CHECK(data == NULL);
    CHECK_FAILS(io_read_file(dir, &data, &size), ARITH_ERR_IO, dir, "directory", NULL);
}

/* A full disk (the ARITH_FAIL_WRITE_AFTER hook): an atomic write leaves the old file and no
 * temporary one; an append is cut back, so the file holds whole lines; the errors name the
 * file and say why. */
static void test_full_disk(void)
{
    char path[512], log[512];
    tmp_path(path, sizeof path, "full.txt");
    tmp_path(log, sizeof log, "full.jsonl");
    write_text(path, "before\n");
    setenv("ARITH_FAIL_WRITE_AFTER", "2", 1);
    io_fault_reset();
    /* writes 1 and 2 go through, the third and every later one fail */
    io_append f = {.fd = -1};
    CHECK_OK(io_append_open(&f, log));
    CHECK_OK(io_append_write(&f, "{\"step\": 1}\n", 12));
    CHECK_OK(io_write_file_atomic(path, "after\n", 6));
    CHECK_FAILS(io_append_write(&f, "{\"step\": 2}\n", 12), ARITH_ERR_IO, log,
                "cannot write", "No space left on device");
    CHECK_FAILS(io_write_file_atomic(path, "lost\n", 5), ARITH_ERR_IO, path, "cannot write",
                "No space left on device");
    CHECK_OK(io_append_close(&f));
    char *data = NULL;
    size_t size = 0;
    CHECK_OK(io_read_file(path, &data, &size));
    CHECK(data && strcmp(data, "after\n") == 0);
    free(data);
    CHECK_OK(io_read_file(log, &data, &size));
    CHECK(data && strcmp(data, "{\"step\": 1}\n") == 0);
    free(data);
    CHECK_EQ_INT(count_temp_files(), 0);
    /* a value that is no count turns the hook off */
    setenv("ARITH_FAIL_WRITE_AFTER", "x", 1);
    io_fault_reset();
    CHECK_OK(io_write_file_atomic(path, "again\n", 6));
    unsetenv("ARITH_FAIL_WRITE_AFTER");
    io_fault_reset();
    CHECK_OK(io_write_file_atomic(path, "free\n", 5));
    unlink(path);
    unlink(log);
}

/* One writer per directory: a second lock on it fails naming the holder's process id (flock
 * locks belong to open files, so even this process cannot take it twice); closing frees it. */
static void test_dir_lock(void)
{
    char dir[512];
    tmp_path(dir, sizeof dir, "locked");
    CHECK(mkdir(dir, 0777) == 0);
    int fd = -1, again = -1;
    long holder = -1;
    CHECK_OK(io_lock_dir(dir, &fd, &holder));
    CHECK(fd >= 0 && holder == 0);
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "process %ld", (long)getpid());
    const char *pid = pid_text;
    CHECK_FAILS(io_lock_dir(dir, &again, &holder), ARITH_ERR_STATE, dir, pid, ".lock");
    CHECK(again == -1 && holder == (long)getpid());
    io_unlock_dir(fd);
    CHECK_OK(io_lock_dir(dir, &again, NULL));
    io_unlock_dir(again);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such", dir);
    CHECK_FAILS(io_lock_dir(missing, &again, NULL), ARITH_ERR_IO, missing, "cannot open", NULL);
}

/* Temporary files of processes that are gone go; a live process's, and anything else, stay. */
static void test_stale_temps(void)
{
    char dir[512];
    tmp_path(dir, sizeof dir, "stale");
    CHECK(mkdir(dir, 0777) == 0);
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    CHECK(child > 0 && waitpid(child, NULL, 0) == child); /* reaped: its id is free now */
    const char *names[] = {"last.safetensors.tmp.%ld", "config.json.tmp.%ld", "keep.tmp.%ld",
                           "keep.tmp.0", "keep.tmp.12x", "metrics.jsonl", ".tmp.%ld"};
    const long owners[] = {(long)child, (long)child, (long)getpid(), 0, 0, 0, (long)child};
    const bool gone[] = {true, true, false, false, false, false, false};
    char path[7][700];
    for (int i = 0; i < 7; i++) {
        char name[64];
        snprintf(name, sizeof name, names[i], owners[i]);
        snprintf(path[i], sizeof path[i], "%s/%s", dir, name);
        write_text(path[i], "x");
    }
    int removed = -1;
    CHECK_OK(io_remove_stale_temps(dir, &removed));
    CHECK_EQ_INT(removed, 2);
    for (int i = 0; i < 7; i++)
        CHECK_MSG((access(path[i], F_OK) != 0) == gone[i], "%s", path[i]);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none", dir);
    CHECK_FAILS(io_remove_stale_temps(missing, NULL), ARITH_ERR_IO, missing, "cannot list", NULL);
    /* no write in progress: nothing to remove. In a child, as the CLI calls it just before
     * _exit: it keeps the writers' lock, so this process could write no file after it. */
    pid_t discarder = fork();
    if (discarder == 0) {
        io_discard_pending();
        _exit(0);
    }
    int status = -1;
    CHECK(discarder > 0 && waitpid(discarder, &status, 0) == discarder);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* --------------------------------------------------------------------- safetensors writes */

static void test_st_roundtrip(void)
{
    char path[512];
    tmp_path(path, sizeof path, "model.safetensors");

    float w[6] = {1.5f, -0.0f, NAN, INFINITY, FLT_MIN / 2, FLT_MAX};
    float bias[3] = {1.0f, 2.0f, -3.25f};
    float scalar[1] = {42.0f};
    float big[1000];
    for (int i = 0; i < 1000; i++)
        big[i] = sinf((float)i) * 1e-3f;
    int64_t w_shape[2] = {2, 3}, bias_shape[1] = {3}, empty_shape[2] = {0, 4};
    int64_t big_shape[4] = {2, 5, 10, 10};
    st_entry entries[] = {
        {"b.weight", 2, w_shape, w},
        {"a.bias", 1, bias_shape, bias},
        {"scalar", 0, NULL, scalar},
        {"empty", 2, empty_shape, NULL},
        {"layers.0.big", 4, big_shape, big},
    };
    const char *keys[] = {"format", "config", "empty"};
    const char *values[] = {"arith",
                            "{\"d_model\": 64,\n \"name\": \"ünïcode \\\"q\\\" \xf0\x9f\x99\x82\"}",
                            ""};
    CHECK_OK(st_write(path, entries, 5, keys, values, 3));
    CHECK_EQ_INT(count_temp_files(), 0);

    st_file f;
    CHECK_OK(st_read(&f, path));
    CHECK_EQ_INT(f.count, 5);
    /* the header lists tensors sorted by name */
    const char *sorted[] = {"a.bias", "b.weight", "empty", "layers.0.big", "scalar"};
    for (int i = 0; i < f.count && i < 5; i++)
        CHECK_STR(f.tensors[i].name, sorted[i]);
    for (int i = 0; i < 5; i++) {
        const st_entry *e = &entries[i];
        const st_tensor *t = st_find(&f, e->name);
        CHECK_MSG(t != NULL, "tensor %s not found", e->name);
        if (!t)
            continue;
        CHECK_EQ_INT(t->dtype, ST_F32);
        CHECK_EQ_INT(t->ndim, e->ndim);
        size_t numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            CHECK_EQ_INT(t->shape[d], e->shape[d]);
            numel *= (size_t)e->shape[d];
        }
        CHECK_EQ_INT(t->numel, numel);
        CHECK_EQ_INT(t->nbytes, numel * 4);
        CHECK_MSG(numel == 0 || memcmp(t->data, e->data, numel * 4) == 0, "%s bytes", e->name);
        float *copy = malloc((numel + 1) * sizeof *copy);
        CHECK_OK(st_copy_f32(&f, e->name, copy, numel));
        CHECK_MSG(same_bits(copy, e->data, numel), "%s: values not bit-exact", e->name);
        free(copy);
    }
    CHECK(st_find(&f, "nope") == NULL);
    CHECK_EQ_INT(f.meta_count, 3);
    for (int i = 0; i < f.meta_count && i < 3; i++) {
        CHECK_STR(f.meta_keys[i], keys[i]);
        CHECK_STR(f.meta_values[i], values[i]);
    }
    CHECK_STR(st_meta(&f, "config"), values[1]);
    CHECK(st_meta(&f, "nope") == NULL);

    /* layout: header padded to 8 bytes; data in the order given (b.weight first) */
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | f.buffer[i];
    CHECK_EQ_INT(n % 8, 0);
    CHECK(f.buffer[8] == '{');
    CHECK(st_find(&f, "b.weight")->data == f.buffer + 8 + n);
    CHECK(st_find(&f, "a.bias")->data == f.buffer + 8 + n + 24);
    CHECK_EQ_INT(f.size, 8 + n + 4 * (6 + 3 + 1 + 0 + 1000));
    CHECK(strstr((const char *)f.buffer + 8, "\"__metadata__\"") != NULL);
    st_free(&f);
    CHECK(f.buffer == NULL && f.tensors == NULL && f.count == 0);

    /* no metadata: no __metadata__ key at all; overwriting a longer file replaces it wholly */
    CHECK_OK(st_write(path, entries + 1, 1, NULL, NULL, 0));
    char *raw;
    size_t size;
    CHECK_OK(io_read_file(path, &raw, &size));
    CHECK(strstr(raw + 8, "__metadata__") == NULL);
    free(raw);
    CHECK_OK(st_read(&f, path));
    CHECK_EQ_INT(f.count, 1);
    CHECK_EQ_INT(f.meta_count, 0);
    n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | f.buffer[i];
    CHECK_EQ_INT(n % 8, 0);
    CHECK_EQ_INT(f.size, 8 + n + 12);
    CHECK(f.tensors[0].data == f.buffer + 8 + n);
    st_free(&f);

    /* zero tensors */
    CHECK_OK(st_write(path, NULL, 0, keys, values, 1));
    CHECK_OK(st_read(&f, path));
    CHECK_EQ_INT(f.count, 0);
    CHECK_STR(st_meta(&f, "format"), "arith");
    st_free(&f);

    /* bad arguments */
    st_entry dup[] = {{"x", 1, bias_shape, bias}, {"x", 1, bias_shape, bias}};
    CHECK_FAILS(st_write(path, dup, 2, NULL, NULL, 0), ARITH_ERR_ARG, path, "'x' given twice",
                NULL);
    st_entry reserved[] = {{"__metadata__", 1, bias_shape, bias}};
    CHECK_FAILS(st_write(path, reserved, 1, NULL, NULL, 0), ARITH_ERR_ARG, path, NULL, NULL);
    const char *dup_keys[] = {"k", "k"};
    CHECK_FAILS(st_write(path, entries, 1, dup_keys, dup_keys, 2), ARITH_ERR_ARG, path,
                "'k' given twice", NULL);
    /* the failed writes left the last good file */
    CHECK_OK(st_read(&f, path));
    CHECK_EQ_INT(f.count, 0);
    st_free(&f);
    CHECK_EQ_INT(count_temp_files(), 0);

    /* a directory that does not exist */
    char missing[512];
    tmp_path(missing, sizeof missing, "no_such_dir/m.safetensors");
    CHECK_FAILS(st_write(missing, entries, 2, NULL, NULL, 0), ARITH_ERR_IO, missing, NULL, NULL);
}

/* ------------------------------------------------------------------------- checksums */

/* The data region's checksum: written on request, XXH64 of exactly the bytes after the header
 * (known answers for empty data), verified on read, and one flipped byte anywhere in the data
 * refused; a file without one passes and says so; a value of another form is refused. */
static void test_st_checksum(void)
{
    char path[512];
    tmp_path(path, sizeof path, "sum.safetensors");
    float w[6] = {0.5f, -1.25f, 2.0f, 3.0f, 4.75f, -6.0f};
    float bias[3] = {0.1f, 0.2f, 1e-7f};
    int64_t w_shape[2] = {2, 3}, bias_shape[1] = {3};
    st_entry entries[] = {{"w", 2, w_shape, w}, {"bias", 1, bias_shape, bias}};
    const char *keys[] = {"format"};
    const char *values[] = {"arith"};

    /* known answers: XXH64 (seed 0) of no bytes and of "abc", as xxhsum -H1 prints them */
    char text[ST_CHECKSUM_MAX];
    st_checksum((const uint8_t *)"", 0, text);
    CHECK_STR(text, "xxh64:ef46db3751d8e999");
    st_checksum((const uint8_t *)"abc", 3, text);
    CHECK_STR(text, "xxh64:44bc2cf5ad770999");
    CHECK_OK(st_write_checksummed(path, NULL, 0, NULL, NULL, 0));
    st_file f;
    bool present = false;
    CHECK_OK(st_read(&f, path));
    CHECK_STR(st_meta(&f, ST_CHECKSUM_KEY), "xxh64:ef46db3751d8e999");
    st_free(&f);

    /* round trip: the caller's metadata kept, the checksum after it, of the data region */
    CHECK_OK(st_write_checksummed(path, entries, 2, keys, values, 1));
    CHECK_OK(st_read(&f, path));
    CHECK_EQ_INT(f.meta_count, 2);
    CHECK_STR(st_meta(&f, "format"), "arith");
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | f.buffer[i];
    CHECK_EQ_INT(f.size - 8 - n, 4 * (6 + 3));
    st_checksum(f.buffer + 8 + n, f.size - 8 - n, text);
    CHECK_STR(st_meta(&f, ST_CHECKSUM_KEY), text);
    /* the floats as they are in memory, little-endian: the data region byte for byte */
    uint8_t raw[36];
    memcpy(raw, w, 24);
    memcpy(raw + 24, bias, 12);
    char from_floats[ST_CHECKSUM_MAX];
    st_checksum(raw, sizeof raw, from_floats);
    CHECK_STR(text, from_floats);
    CHECK_OK(st_verify_checksum(&f, &present));
    CHECK(present);
    const size_t data_at = 8 + (size_t)n;
    st_free(&f);

    /* one flipped bit, first, middle or last byte of the data: refused, naming the file */
    char *bytes;
    size_t size;
    CHECK_OK(io_read_file(path, &bytes, &size));
    const size_t at[] = {data_at, data_at + 17, size - 1};
    const char *recorded = text; /* the message names the checksum the file records */
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        bytes[at[i]] ^= 0x01;
        write_bytes(path, bytes, size);
        bytes[at[i]] ^= 0x01;
        CHECK_OK(st_read(&f, path)); /* the structure is whole: only the checksum can tell */
        CHECK_FAILS(st_verify_checksum(&f, &present), ARITH_ERR_DATA, path,
                    "tensor data does not match its checksum (file damaged?)", recorded);
        CHECK(present);
        st_free(&f);
    }
    write_bytes(path, bytes, size);
    CHECK_OK(st_read(&f, path));
    CHECK_OK(st_verify_checksum(&f, NULL));
    st_free(&f);
    free(bytes);

    /* no checksum (st_write, older files, other writers): passes, and says it had none */
    CHECK_OK(st_write(path, entries, 2, keys, values, 1));
    CHECK_OK(st_read(&f, path));
    CHECK(st_meta(&f, ST_CHECKSUM_KEY) == NULL);
    present = true;
    CHECK_OK(st_verify_checksum(&f, &present));
    CHECK(!present);
    st_free(&f);

    /* another algorithm, or a malformed value: not taken for a match */
    const char *odd[] = {"crc32c:1234abcd", "xxh64:EF46DB3751D8E999", "xxh64:ef46db3751d8e99",
                         "xxh64:ef46db3751d8e999 ", ""};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        const char *k[] = {ST_CHECKSUM_KEY};
        CHECK_OK(st_write(path, NULL, 0, k, &odd[i], 1));
        CHECK_OK(st_read(&f, path));
        CHECK_FAILS(st_verify_checksum(&f, NULL), ARITH_ERR_FORMAT, path, "\"data_checksum\"",
                    "not a checksum this arith knows");
        st_free(&f);
    }
    /* the key is the writer's own */
    const char *mine[] = {ST_CHECKSUM_KEY};
    const char *forged[] = {"xxh64:0000000000000000"};
    CHECK_FAILS(st_write_checksummed(path, entries, 2, mine, forged, 1), ARITH_ERR_ARG, path,
                "'data_checksum'", NULL);
}

/* ---------------------------------------------------------------------- corrupt files */

static void test_st_corrupt(void)
{
    char path[512];
    uint8_t blob[64] = {0};

    /* shorter than the length field; an empty file */
    tmp_path(path, sizeof path, "short.safetensors");
    write_bytes(path, "\x10\0\0\0\0", 5);
    st_file f;
    CHECK_FAILS(st_read(&f, path), ARITH_ERR_FORMAT, path, "truncated", NULL);
    CHECK(f.buffer == NULL && f.tensors == NULL);
    write_bytes(path, "", 0);
    CHECK_FAILS(st_read(&f, path), ARITH_ERR_FORMAT, path, "truncated", NULL);

    /* a header length past the end of the file */
    tmp_path(path, sizeof path, "truncated.safetensors");
    uint8_t hundred[100];
    memset(hundred, ' ', sizeof hundred);
    hundred[0] = 1234 & 0xff;
    hundred[1] = 1234 >> 8;
    memset(hundred + 2, 0, 6);
    write_bytes(path, hundred, sizeof hundred);
    CHECK_FAILS(st_read(&f, path), ARITH_ERR_FORMAT, path, "truncated: header says 1234 bytes",
                "only 92");
    /* a length with its high bytes set (a file of another format, or garbage) */
    write_st_raw(path, 0x7b22000000000000ull, "{}", NULL, 0);
    CHECK_FAILS(st_read(&f, path), ARITH_ERR_FORMAT, path, "truncated", NULL);

    /* a file cut short inside the data */
    tmp_path(path, sizeof path, "cut.safetensors");
    write_st_raw(path, UINT64_MAX,
                 "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", blob, 10);
    CHECK_FAILS(st_read(&f, path), ARITH_ERR_FORMAT, path, "tensor 'w'", "past end of file");

    static const struct {
        const char *file, *header, *needle, *tensor;
    } cases[] = {
        {"empty_header", "", "header is empty", NULL},
        {"not_json", "{not json at all", "not valid JSON", NULL},
        {"not_object", "[1, 2, 3]", "not a JSON object", NULL},
        {"trailing", "{} x", "bytes after its JSON", NULL},
        {"entry_not_object", "{\"w\": 3}", "not a JSON object", "'w'"},
        {"no_dtype", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", "missing \"dtype\"", "'w'"},
        {"no_shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", "missing \"shape\"",
         "'w'"},
        {"no_offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", "missing \"data_offsets\"",
         "'w'"},
        {"unknown_dtype", "{\"w\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}",
         "unknown dtype 'Q7'", "'w'"},
        {"dtype_not_string", "{\"w\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}",
         "dtype is not a string", "'w'"},
        {"shape_not_array", "{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}",
         "shape is not an array", "'w'"},
        {"negative_dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}",
         "shape[0] is not a non-negative integer", "'w'"},
        {"fractional_dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}",
         "shape[0]", "'w'"},
        {"too_many_dims",
         "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,2],\"data_offsets\":[0,8]}}",
         "5 dimensions", "'w'"},
        {"offsets_one", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}",
         "data_offsets is not an array of two", "'w'"},
        {"offsets_strings", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",8]}}",
         "data_offsets is not an array of two", "'w'"},
        {"offsets_negative", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}",
         "data_offsets", "'w'"},
        {"offsets_reversed", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}",
         "end before", "'w'"},
        {"offsets_past_end", "{\"w\":{\"dtype\":\"F32\",\"shape\":[18],\"data_offsets\":[0,72]}}",
         "past end of file", "'w'"},
        {"byte_count", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
         "needs 12 bytes", "'w'"},
        {"byte_count_f16", "{\"w\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
         "shape [2, 2] of F16 needs 8 bytes", "'w'"},
        {"huge_shape",
         "{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}",
         "larger than", "'w'"},
        {"bad_utf8", "{\"__metadata__\":{\"k\":\"\xff\"}}", "not UTF-8", NULL},
        {"cut_utf8", "{\"__metadata__\":{\"k\":\"\xc3\"}}", "not UTF-8", NULL},
        {"overlong_utf8", "{\"__metadata__\":{\"k\":\"\xc0\xaf\"}}", "not UTF-8", NULL},
        {"surrogate_utf8", "{\"__metadata__\":{\"k\":\"\xed\xa0\x80\"}}", "not UTF-8", NULL},
        {"control_in_string", "{\"__metadata__\":{\"k\":\"a\nb\"}}", "control character",
         NULL},
        {"meta_not_string", "{\"__metadata__\":{\"ok\":\"x\",\"k\":1}}",
         "'k': value is not a string", NULL},
        {"meta_not_object", "{\"__metadata__\":[\"a\"]}", "__metadata__", NULL},
        {"meta_twice", "{\"__metadata__\":{},\"__metadata__\":{}}", "two \"__metadata__\"", NULL},
        {"duplicate", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                      "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
         "appears twice", "'w'"},
        {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
         "overlap", "'b'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s.safetensors", cases[i].file);
        tmp_path(path, sizeof path, name);
        write_st_raw(path, UINT64_MAX, cases[i].header, blob, sizeof blob);
        arith_error_clear();
        CHECK_FAILS(st_read(&f, path), ARITH_ERR_FORMAT, path, cases[i].needle, cases[i].tensor);
        CHECK(f.buffer == NULL && f.tensors == NULL && f.meta_keys == NULL);
    }

    /* a missing file is an I/O error, not a format error */
    tmp_path(path, sizeof path, "missing.safetensors");
    CHECK_FAILS(st_read(&f, path), ARITH_ERR_IO, path, "cannot open", NULL);
}

/* ------------------------------------------------------------------ dtypes and conversion */

static uint32_t bits_of(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static void test_conversions(void)
{
    static const struct {
        uint16_t h;
        float want;
    } f16[] = {
        {0x0000, 0.0f}, {0x3c00, 1.0f}, {0xc000, -2.0f}, {0x3555, 0.333251953125f},
        {0x7bff, 65504.0f}, {0x0400, 0x1p-14f}, {0x0001, 0x1p-24f}, {0x8001, -0x1p-24f},
        {0x03ff, 1023 * 0x1p-24f}, {0x0200, 0x1p-15f}, {0x7c00, INFINITY}, {0xfc00, -INFINITY},
        {0x4248, 3.140625f},
    };
    for (size_t i = 0; i < sizeof f16 / sizeof f16[0]; i++)
        CHECK_MSG(bits_of(st_f16_to_f32(f16[i].h)) == bits_of(f16[i].want),
                  "f16 0x%04x -> %.9g, want %.9g", f16[i].h, (double)st_f16_to_f32(f16[i].h),
                  (double)f16[i].want);
    CHECK(signbit(st_f16_to_f32(0x8000)) && st_f16_to_f32(0x8000) == 0.0f);
    CHECK(isnan(st_f16_to_f32(0x7e00)) && isnan(st_f16_to_f32(0xfc01)));
    /* every finite half against the definition: (-1)^s * 2^(e-15) * (1 + m/1024), or
     * 2^-14 * m/1024 when e == 0 */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
        if (e == 31)
            continue;
        double v = e ? ldexp(1.0 + m / 1024.0, e - 15) : ldexp(m / 1024.0, -14);
        bad += st_f16_to_f32((uint16_t)h) != (float)(s ? -v : v);
    }
    CHECK_EQ_INT(bad, 0);

    static const struct {
        uint16_t h;
        float want;
    } bf16[] = {
        {0x3f80, 1.0f}, {0xc040, -3.0f}, {0x4049, 3.140625f}, {0x7f80, INFINITY},
        {0xff80, -INFINITY}, {0x0080, FLT_MIN}, {0x7f7f, 0x1.fep127f}, {0x3e80, 0.25f},
    };
    for (size_t i = 0; i < sizeof bf16 / sizeof bf16[0]; i++)
        CHECK_MSG(bits_of(st_bf16_to_f32(bf16[i].h)) == bits_of(bf16[i].want),
                  "bf16 0x%04x -> %.9g, want %.9g", bf16[i].h, (double)st_bf16_to_f32(bf16[i].h),
                  (double)bf16[i].want);
    CHECK(bits_of(st_bf16_to_f32(0x0001)) == 0x00010000u);    /* a subnormal */
    CHECK(isnan(st_bf16_to_f32(0x7fc0)));

    CHECK_STR(st_dtype_name(ST_BF16), "BF16");
    CHECK_EQ_INT(st_dtype_size(ST_F64), 8);
    CHECK_EQ_INT(st_dtype_size(ST_U8), 1);

    /* A file written by hand as other writers do: metadata first, mixed dtypes, a header whose
     * length is not a multiple of 8 (so the data is unaligned). */
    char path[512];
    tmp_path(path, sizeof path, "dtypes.safetensors");
    const char *header =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"h\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]},"
        "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[14,30]},"
        "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[30,38]},"
        "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[38,38]}}";
    CHECK(strlen(header) % 8 != 0);
    uint8_t blob[38] = {
        0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0x00, 0x7c,    /* F16 1, -2, 2^-24, inf */
        0x80, 0x3f, 0x49, 0x40, 0x80, 0xff,                /* BF16 1, 3.140625, -inf */
    };
    double d[2] = {0.1, -2.5e-3};
    for (int k = 0; k < 2; k++) {
        uint64_t u;
        memcpy(&u, &d[k], 8);
        for (int j = 0; j < 8; j++)
            blob[14 + 8 * k + j] = (uint8_t)(u >> (8 * j));
    }
    blob[30] = 7;
    write_st_raw(path, UINT64_MAX, header, blob, sizeof blob);
    st_file f;
    CHECK_OK(st_read(&f, path));
    CHECK_EQ_INT(f.count, 5);
    CHECK_STR(st_meta(&f, "format"), "pt");
    CHECK_STR(f.tensors[0].name, "h");    /* file order */
    CHECK_STR(f.tensors[3].name, "i");
    float out[4];
    float want_h[4] = {1.0f, -2.0f, 0x1p-24f, INFINITY};
    CHECK_OK(st_copy_f32(&f, "h", out, 4));
    CHECK(same_bits(out, want_h, 4));
    float want_b[3] = {1.0f, 3.140625f, -INFINITY};
    CHECK_OK(st_copy_f32(&f, "b", out, 3));
    CHECK(same_bits(out, want_b, 3));
    float want_d[2] = {(float)0.1, (float)-2.5e-3};
    CHECK_OK(st_copy_f32(&f, "d", out, 2));
    CHECK(same_bits(out, want_d, 2));
    CHECK_OK(st_copy_f32(&f, "z", out, 0));
    CHECK_EQ_INT(st_find(&f, "i")->dtype, ST_I64);
    CHECK_EQ_INT(st_find(&f, "i")->data[0], 7);

    CHECK_FAILS(st_copy_f32(&f, "i", out, 1), ARITH_ERR_DATA, path, "'i' is I64", NULL);
    CHECK_FAILS(st_copy_f32(&f, "h", out, 3), ARITH_ERR_DATA, path, "'h' has shape [2, 2]",
                "4 values");
    CHECK_FAILS(st_copy_f32(&f, "nope", out, 1), ARITH_ERR_DATA, path, "'nope'", NULL);
    int64_t good[2] = {2, 2}, wrong[2] = {4, 1};
    CHECK_OK(st_expect_shape(&f, "h", 2, good));
    CHECK_FAILS(st_expect_shape(&f, "h", 2, wrong), ARITH_ERR_DATA, path, "[2, 2] in the file",
                "[4, 1] expected");
    CHECK_FAILS(st_expect_shape(&f, "h", 1, good), ARITH_ERR_DATA, path, "'h'", "[2] expected");
    st_free(&f);
}

/* ------------------------------------------- cross-check with the independent Python reader */

static void shell_quote(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    out[n++] = '\'';
    for (; *s && n + 6 < cap; s++) {
        if (*s == '\'') {
            memcpy(out + n, "'\\''", 4);
            n += 4;
        } else {
            out[n++] = *s;
        }
    }
    out[n++] = '\'';
    out[n] = '\0';
}

/* Runs tools/read_safetensors.py with `args` on `file`; returns its exit status (-1 when it
 * could not be run) and its stdout in *output (malloc'd). */
static int run_python_reader(const char *args, const char *file, char **output)
{
    char script[1200], qscript[2500], qfile[1200], cmd[4200];
    snprintf(script, sizeof script, "%s/tools/read_safetensors.py", ARITH_SOURCE_DIR);
    shell_quote(qscript, sizeof qscript, script);
    shell_quote(qfile, sizeof qfile, file);
    snprintf(cmd, sizeof cmd, "python3 %s %s %s", qscript, args, qfile);
    *output = NULL;
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 2)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    *output = buf;
    int status = pclose(p);
    return status == -1 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void test_python_reader(void)
{
    char path[512];
    tmp_path(path, sizeof path, "cross.safetensors");
    float w[6] = {0.5f, -1.25f, 2.0f, 3.0f, 4.75f, -6.0f};
    float bias[4] = {0.1f, 0.2f, 0.3f, 1e-7f};
    float scalar[1] = {7.0f};
    float big[3 * 4 * 5 * 6];
    for (int i = 0; i < 360; i++)
        big[i] = cosf((float)i * 0.37f) * 3.0f;
    int64_t w_shape[2] = {2, 3}, bias_shape[1] = {4}, big_shape[4] = {3, 4, 5, 6};
    int64_t empty_shape[3] = {2, 0, 3};
    st_entry entries[] = {
        {"w", 2, w_shape, w},
        {"z.bias", 1, bias_shape, bias},
        {"s", 0, NULL, scalar},
        {"blocks.1.big", 4, big_shape, big},
        {"nothing", 3, empty_shape, NULL},
    };
    const int count = 5;
    const char *keys[] = {"format", "note"};
    const char *values[] = {"arith", "quote \" comma , newline \n ünï \\ end"};
    CHECK_OK(st_write(path, entries, count, keys, values, 2));

    char *out = NULL;
    int status = run_python_reader("--json", path, &out);
    CHECK_MSG(status == 0, "python3 tools/read_safetensors.py --json exited with %d (python3 is "
              "required for this test)", status);
    cJSON *root = out ? cJSON_Parse(out) : NULL;
    CHECK_MSG(root != NULL, "reader output is not JSON: %.300s", out ? out : "(none)");
    const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(root, "tensors");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    CHECK(cJSON_IsObject(tensors) && cJSON_IsObject(meta));
    CHECK_EQ_INT(cJSON_GetArraySize(tensors), count);
    for (int i = 0; i < count; i++) {
        const st_entry *e = &entries[i];
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(tensors, e->name);
        CHECK_MSG(cJSON_IsObject(t), "python reader lacks tensor %s", e->name);
        if (!cJSON_IsObject(t))
            continue;
        const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
        const cJSON *sum = cJSON_GetObjectItemCaseSensitive(t, "sum");
        CHECK(cJSON_IsString(dtype) && strcmp(dtype->valuestring, "F32") == 0);
        CHECK_EQ_INT(cJSON_GetArraySize(shape), e->ndim);
        size_t numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            const cJSON *dim = cJSON_GetArrayItem(shape, d);
            CHECK(cJSON_IsNumber(dim) && dim->valuedouble == (double)e->shape[d]);
            numel *= (size_t)e->shape[d];
        }
        double want = 0;
        for (size_t j = 0; j < numel; j++)
            want += (double)e->data[j];
        double tol = 1e-9 * fmax(1, fabs(want));
        CHECK_MSG(cJSON_IsNumber(sum) && fabs(sum->valuedouble - want) <= tol,
                  "%s: python sum %.17g, C sum %.17g", e->name, sum ? sum->valuedouble : NAN, want);
    }
    CHECK_EQ_INT(cJSON_GetArraySize(meta), 2);
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, keys[i]);
        CHECK(cJSON_IsString(v) && strcmp(v->valuestring, values[i]) == 0);
    }
    cJSON_Delete(root);
    free(out);

    /* --check: the C writer's file and a hand-made mixed-dtype file pass, corrupt ones fail */
    status = run_python_reader("--check", path, &out);
    CHECK_MSG(status == 0, "--check of the C writer's file exited with %d: %s", status, out);
    free(out);
    char other[512];
    tmp_path(other, sizeof other, "dtypes.safetensors");
    status = run_python_reader("--check", other, &out);
    CHECK_MSG(status == 0, "--check of %s exited with %d", other, status);
    free(out);
    const char *corrupt[] = {"truncated.safetensors", "overlap.safetensors",
                             "byte_count.safetensors", "meta_not_string.safetensors",
                             "not_json.safetensors", "bad_utf8.safetensors"};
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        tmp_path(other, sizeof other, corrupt[i]);
        status = run_python_reader("--check 2>/dev/null", other, &out);
        CHECK_MSG(status == 1, "--check of corrupt %s exited with %d, not 1", corrupt[i], status);
        free(out);
    }
}

/* -------------------------------------------------------------------------------- csv */

static arith_status csv_from(csv_table *t, char *path, size_t cap, const char *name,
                             const char *content)
{
    tmp_path(path, cap, name);
    write_text(path, content);
    return csv_read(t, path);
}

static void test_csv(void)
{
    char path[512];
    csv_table t;

    /* quotes, escaped quotes, embedded comma and newline; a row's line is where it starts */
    CHECK_OK(csv_from(&t, path, sizeof path, "quotes.csv",
                      "name,text\n"
                      "plain,\"hello, world\"\n"
                      "esc,\"say \"\"hi\"\"\"\n"
                      "multi,\"line one\nline two\"\n"
                      "\"quoted name\",\"\"\n"
                      "after,x\n"));
    CHECK_STR(t.path, path);
    CHECK_EQ_INT(t.ncols, 2);
    CHECK_EQ_INT(t.nrows, 5);
    if (t.nrows == 5) {
        CHECK_STR(t.header[0], "name");
        CHECK_STR(t.header[1], "text");
        CHECK_STR(t.rows[0].fields[1], "hello, world");
        CHECK_STR(t.rows[1].fields[1], "say \"hi\"");
        CHECK_STR(t.rows[2].fields[1], "line one\nline two");
        CHECK_STR(t.rows[3].fields[0], "quoted name");
        CHECK_STR(t.rows[3].fields[1], "");
        CHECK_STR(t.rows[4].fields[0], "after");
        const int lines[5] = {2, 3, 4, 6, 7};
        for (int r = 0; r < 5; r++) {
            CHECK_EQ_INT(t.rows[r].line, lines[r]);
            CHECK_EQ_INT(t.rows[r].nfields, 2);
        }
    }
    CHECK_EQ_INT(csv_column(&t, "text"), 1);
    CHECK_EQ_INT(csv_column(&t, "missing"), -1);
    csv_free(&t);
    CHECK(t.rows == NULL && t.text == NULL && t.path == NULL);

    /* CRLF, blank lines (also CRLF ones), no final newline, empty fields, a byte-order mark */
    CHECK_OK(csv_from(&t, path, sizeof path, "crlf.csv",
                      "\xEF\xBB\xBF" "a,b,c\r\n\r\n1,\"2\r\n2\",3\r\n\n\n,,\r\n4,5,6"));
    CHECK_EQ_INT(t.nrows, 3);
    if (t.nrows == 3) {
        CHECK_STR(t.header[0], "a");
        CHECK_STR(t.header[2], "c");
        CHECK_STR(t.rows[0].fields[1], "2\r\n2");
        CHECK_STR(t.rows[0].fields[2], "3");
        CHECK_EQ_INT(t.rows[0].line, 3);
        CHECK_STR(t.rows[1].fields[0], "");
        CHECK_STR(t.rows[1].fields[2], "");
        CHECK_EQ_INT(t.rows[1].line, 7);
        CHECK_STR(t.rows[2].fields[2], "6");
        CHECK_EQ_INT(t.rows[2].line, 8);
    }
    csv_free(&t);

    /* seed-000 layout: an unnamed first column (pandas' index) */
    CHECK_OK(csv_from(&t, path, sizeof path, "seed000.csv",
                      ",src,tgt\n0,12+34,46\n1,5+5,10\n2,\"7,8\",x\n"));
    CHECK_EQ_INT(t.ncols, 3);
    CHECK_EQ_INT(t.nrows, 3);
    CHECK_STR(t.header[0], "");
    CHECK_EQ_INT(csv_column(&t, ""), 0);
    CHECK_EQ_INT(csv_column(&t, "src"), 1);
    CHECK_EQ_INT(csv_column(&t, "tgt"), 2);
    if (t.nrows == 3) {
        CHECK_STR(t.rows[0].fields[1], "12+34");
        CHECK_STR(t.rows[1].fields[2], "10");
        CHECK_STR(t.rows[2].fields[1], "7,8");
    }
    csv_free(&t);

    /* a header and no rows */
    CHECK_OK(csv_from(&t, path, sizeof path, "header_only.csv", "x,y\n\n"));
    CHECK_EQ_INT(t.ncols, 2);
    CHECK_EQ_INT(t.nrows, 0);
    CHECK_STR(t.header[1], "y");
    csv_free(&t);

    /* errors: wrong field counts (the line counts the newlines inside quoted fields) */
    char where[600];
    CHECK_FAILS(csv_from(&t, path, sizeof path, "short_row.csv", "a,b\n1,2\n\n3\n4,5\n"),
                ARITH_ERR_FORMAT, path, ":4: expected 2 fields, found 1", NULL);
    snprintf(where, sizeof where, "%s:4:", path);
    CHECK_MSG(message_has(where), "message \"%s\" lacks \"%s\"", arith_error_message(), where);
    CHECK(t.rows == NULL && t.text == NULL && t.path == NULL);
    CHECK_FAILS(csv_from(&t, path, sizeof path, "long_row.csv", "a,b\n\"x\ny\",1\n1,2,3\n"),
                ARITH_ERR_FORMAT, path, ":4: expected 2 fields, found 3", NULL);
    CHECK_FAILS(csv_from(&t, path, sizeof path, "unterminated.csv", "a,b\n1,2\n3,\"abc\n\ndef\n"),
                ARITH_ERR_FORMAT, path, ":3: unterminated quoted field", NULL);
    CHECK_FAILS(csv_from(&t, path, sizeof path, "after_quote.csv", "a,b\n\"x\"y,2\n"),
                ARITH_ERR_FORMAT, path, ":2: unexpected 'y' after a closing quote", NULL);
    CHECK_FAILS(csv_from(&t, path, sizeof path, "empty.csv", ""), ARITH_ERR_FORMAT, path,
                "empty file", NULL);
    CHECK_FAILS(csv_from(&t, path, sizeof path, "blank.csv", "\n\r\n\n"), ARITH_ERR_FORMAT, path,
                "empty file", NULL);
    tmp_path(path, sizeof path, "does_not_exist.csv");
    CHECK_FAILS(csv_read(&t, path), ARITH_ERR_IO, path, "cannot open", NULL);
    CHECK(t.rows == NULL && t.text == NULL && t.path == NULL);
}

static void test_csv_format(void)
{
    const char *fields[] = {"plain", "a,b", "say \"hi\"", "two\nlines", "", "cr\r", "\"", "x y"};
    const int n = (int)(sizeof fields / sizeof fields[0]);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    /* the header by hand; then many rows of formatted fields, so the buffer grows */
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "%sc%d", i ? "," : "", i);
        size_t l = strlen(name);
        if (cap - len <= l) {
            cap = (len + l + 1) * 2;
            buf = realloc(buf, cap);
        }
        memcpy(buf + len, name, l + 1);
        len += l;
    }
    const int nrows = 200;
    for (int r = 0; r < nrows; r++) {
        for (int i = 0; i < n; i++) {
            if (cap - len < 2) {
                cap *= 2;
                buf = realloc(buf, cap);
            }
            buf[len++] = i ? ',' : '\n';
            buf[len] = '\0';
            csv_format_field(&buf, &len, &cap, fields[i]);
        }
    }
    CHECK(buf != NULL && strlen(buf) == len);
    const char *row = "\nplain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,\"cr\r\",\"\"\"\",x y";
    CHECK(strstr(buf, row) != NULL);

    char path[512];
    tmp_path(path, sizeof path, "formatted.csv");
    write_text(path, buf);
    free(buf);
    csv_table t;
    CHECK_OK(csv_read(&t, path));
    CHECK_EQ_INT(t.ncols, n);
    CHECK_EQ_INT(t.nrows, nrows);
    int bad = 0;
    for (int r = 0; r < t.nrows; r++)
        for (int i = 0; i < n; i++)
            bad += strcmp(t.rows[r].fields[i], fields[i]) != 0;
    CHECK_EQ_INT(bad, 0);
    if (t.nrows > 1)
        CHECK_EQ_INT(t.rows[1].line, 4);    /* row 0 spans lines 2-3 (the embedded newline) */
    csv_free(&t);
}

/* The one escaper of SVG and HTML text: markup characters as entities, control characters
 * (which XML forbids even as entities) as U+FFFD, tab, newline and UTF-8 kept as they are. */
static void test_xml_escape(void)
{
    text_buffer b = {0};
    text_printf(&b, "<t>");
    text_put_xml(&b, "we<i>rd&\"run's\x01\x1f\t\n\xc3\xa9");
    text_put_xml(&b, "");
    text_put_xml(&b, "plain");
    CHECK(!b.failed && b.text != NULL);
    const char *want = "<t>we&lt;i&gt;rd&amp;&quot;run&#39;s\xef\xbf\xbd\xef\xbf\xbd\t\n\xc3\xa9plain";
    CHECK_MSG(b.text && strcmp(b.text, want) == 0, "got '%s'", b.text ? b.text : "(null)");
    CHECK_EQ_INT((int)b.len, (int)strlen(want));
    free(b.text);
}

int main(void)
{
    if (!mkdtemp(tmp_dir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 2;
    }
    test_files();
    test_full_disk();
    test_dir_lock();
    test_stale_temps();
    test_st_roundtrip();
    test_st_checksum();
    test_st_corrupt();
    test_conversions();
    test_python_reader();
    test_csv();
    test_csv_format();
    test_xml_escape();
    if (getenv("KEEP_TMP"))    /* KEEP_TMP=1: keep the files, to look at them */
        fprintf(stderr, "test files kept in %s\n", tmp_dir);
    else
        remove_tree(tmp_dir);
    return check_summary("test_io");
}
