/* io/file: whole-file reads, text buffers, and atomic writes (temporary file, fsync, rename)
 * so that a crash or a full disk never leaves a half-written file under the final name. */
#define _POSIX_C_SOURCE 200809L
#include "io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

arith_status io_read_file(const char *path, char **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return arith_error(ARITH_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return arith_error(ARITH_ERR_IO, "%s: cannot stat: %s", path, strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return arith_error(ARITH_ERR_IO, "%s: is a directory, not a file", path);
    }
    /* Regular files: room for the whole file, its NUL and one spare byte so that the read that
     * sees end-of-file needs no realloc. Pipes and the like grow as they go. */
    size_t cap = 65536;
    if (S_ISREG(st.st_mode) && st.st_size >= 0 && (uint64_t)st.st_size < SIZE_MAX - 2)
        cap = (size_t)st.st_size + 2;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return arith_error(ARITH_ERR_MEMORY, "%s: out of memory reading %zu bytes", path, cap);
    }
    size_t len = 0;
    for (;;) {
        if (len + 1 >= cap) {
            size_t new_cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
            char *grown = new_cap > cap ? realloc(buf, new_cap) : NULL;
            if (!grown) {
                free(buf);
                close(fd);
                return arith_error(ARITH_ERR_MEMORY, "%s: out of memory reading past %zu bytes",
                                   path, len);
            }
            buf = grown;
            cap = new_cap;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            free(buf);
            close(fd);
            return arith_error(ARITH_ERR_IO, "%s: cannot read: %s", path, strerror(err));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    *data = buf;
    *size = len;
    return ARITH_OK;
}

/* Best effort: make the rename itself durable by syncing the directory that holds `path`. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

arith_status io_write_file_atomic(const char *path, const void *data, size_t size)
{
    size_t tmp_cap = strlen(path) + 32;
    char *tmp = malloc(tmp_cap);
    if (!tmp)
        return arith_error(ARITH_ERR_MEMORY, "%s: out of memory", path);
    snprintf(tmp, tmp_cap, "%s.tmp.%ld", path, (long)getpid());

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int err = errno;
        arith_error(ARITH_ERR_IO, "%s: cannot create temporary file %s: %s", path, tmp,
                    strerror(err));
        free(tmp);
        return ARITH_ERR_IO;
    }
    const char *what = NULL;
    int err = 0;
    const uint8_t *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            what = "cannot write";
            err = errno;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (!what && fsync(fd) != 0) {
        what = "cannot fsync";
        err = errno;
    }
    if (close(fd) != 0 && !what) {
        what = "cannot close";
        err = errno;
    }
    if (!what && rename(tmp, path) != 0) {
        what = "cannot rename the temporary file over it";
        err = errno;
    }
    if (what) {
        unlink(tmp);
        free(tmp);
        return arith_error(ARITH_ERR_IO, "%s: %s: %s", path, what, strerror(err));
    }
    free(tmp);
    sync_parent_dir(path);
    return ARITH_OK;
}

void text_printf(text_buffer *b, const char *fmt, ...)
{
    while (!b->failed) {
        va_list ap;
        va_start(ap, fmt);
        /* an empty buffer has no text yet: NULL + 0 is undefined, so measure only */
        int n = vsnprintf(b->text ? b->text + b->len : NULL, b->text ? b->cap - b->len : 0, fmt,
                          ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->text && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *grown = realloc(b->text, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->text = grown;
        b->cap = cap;
    }
}

arith_status text_write_atomic(text_buffer *b, const char *path)
{
    arith_status st = b->failed ? arith_error(ARITH_ERR_MEMORY, "%s: out of memory", path)
                                : io_write_file_atomic(path, b->text, b->len);
    free(b->text);
    b->text = NULL;
    b->len = b->cap = 0;
    return st;
}

arith_status io_join_path(char *out, size_t cap, const char *dir, const char *file)
{
    int n = snprintf(out, cap, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= cap)
        return arith_error(ARITH_ERR_ARG, "path too long: %s/%s", dir, file);
    return ARITH_OK;
}
