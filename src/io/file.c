/* io/file: whole-file reads, text buffers, atomic writes (temporary file, fsync, rename) so
 * that a crash or a full disk never leaves a half-written file under the final name, appends
 * that are whole lines or nothing, the lock of a directory that one process writes, and the
 * removal of temporary files that dead processes left. Every write is checked. */
#define _DEFAULT_SOURCE /* flock */
#include "io/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------- faults, for the tests */

/* Test hook, for tests only: ARITH_FAIL_WRITE_AFTER=N makes every checked write after the
 * first N (atomic files, appended lines) fail as a full disk does (ENOSPC), so that the tests
 * can check what a full disk leaves behind. Unset, nothing fails. */
static long long fault_writes_left = -2; /* -2: not read yet; -1: no fault */

void io_fault_reset(void)
{
    fault_writes_left = -2;
}

/* Whether this checked write must fail (the hook above); counts it. */
static bool fault_write(void)
{
    if (fault_writes_left == -2) {
        const char *v = getenv("ARITH_FAIL_WRITE_AFTER");
        char *end = NULL;
        long long n = v && *v ? strtoll(v, &end, 10) : -1;
        fault_writes_left = v && *v && end && *end == '\0' && n >= 0 ? n : -1;
    }
    if (fault_writes_left < 0)
        return false;
    if (fault_writes_left == 0)
        return true;
    fault_writes_left--;
    return false;
}

/* The temporary files atomic writes have open, so that a process stopped at once (a second
 * Ctrl-C, taken by the CLI's signal thread) can remove them before it ends
 * (io_discard_pending). The lock covers a file's creation with its registration, and its
 * rename or removal with its unregistration, so the signal thread never misses a file that
 * exists nor removes one before it is created; the data in between is written unlocked, so
 * a stop never waits for a large checkpoint. */
enum { PENDING_SLOTS = 8 };
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static char *pending_tmp[PENDING_SLOTS];

/* Registers tmp (the caller holds pending_lock). When every slot is taken the file is left to
 * io_remove_stale_temps, should the process be stopped meanwhile. */
static void pending_add(char *tmp)
{
    for (int i = 0; i < PENDING_SLOTS; i++)
        if (!pending_tmp[i]) {
            pending_tmp[i] = tmp;
            return;
        }
}

static void pending_remove(const char *tmp)
{
    for (int i = 0; i < PENDING_SLOTS; i++)
        if (pending_tmp[i] == tmp)
            pending_tmp[i] = NULL;
}

void io_discard_pending(void)
{
    /* never unlocked: no temporary file can be created or renamed after this, and the
     * caller ends the process */
    pthread_mutex_lock(&pending_lock);
    for (int i = 0; i < PENDING_SLOTS; i++)
        if (pending_tmp[i])
            (void)unlink(pending_tmp[i]);
}

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

/* Writes all of data through an open descriptor: 0, or the errno that stopped it. */
static int write_all(int fd, const void *data, size_t size)
{
    const uint8_t *p = data;
    size_t left = size;
    if (fault_write())
        return ENOSPC;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        p += n;
        left -= (size_t)n;
    }
    return 0;
}

/* A FIFO, a terminal, /dev/null or a socket is written into, never replaced by a file. */
static arith_status write_through(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return arith_error(ARITH_ERR_IO, "%s: cannot open for writing: %s", path,
                           strerror(errno));
    int err = write_all(fd, data, size);
    if (err) {
        close(fd);
        return arith_error(ARITH_ERR_IO, "%s: cannot write: %s", path, strerror(err));
    }
    if (close(fd) != 0)
        return arith_error(ARITH_ERR_IO, "%s: cannot close: %s", path, strerror(errno));
    return ARITH_OK;
}

static arith_status write_atomic(const char *path, const void *data, size_t size);

/* Where a symbolic link points, relative targets taken from the link's directory (malloc'd). */
static char *link_target(const char *path)
{
    char to[4096];
    ssize_t n = readlink(path, to, sizeof to - 1);
    if (n < 0 || (size_t)n >= sizeof to - 1)
        return NULL;
    to[n] = '\0';
    const char *slash = strrchr(path, '/');
    size_t dir = to[0] == '/' || !slash ? 0 : (size_t)(slash - path) + 1;
    char *full = malloc(dir + (size_t)n + 1);
    if (full) {
        memcpy(full, path, dir);
        memcpy(full + dir, to, (size_t)n + 1);
    }
    return full;
}

arith_status io_write_file_atomic(const char *path, const void *data, size_t size)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
        return write_through(path, data, size);
    /* a link is followed: its target is replaced, the link stays (/dev/stdout is one) */
    if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode)) {
        char *target = realpath(path, NULL);
        if (!target)
            target = link_target(path); /* dangling: the file it names is created */
        if (!target)
            return arith_error(ARITH_ERR_IO, "%s: cannot follow the link: %s", path,
                               strerror(errno));
        arith_status st = write_atomic(target, data, size);
        free(target);
        return st;
    }
    return write_atomic(path, data, size);
}

static arith_status write_atomic(const char *path, const void *data, size_t size)
{
    size_t tmp_cap = strlen(path) + 32;
    char *tmp = malloc(tmp_cap);
    if (!tmp)
        return arith_error(ARITH_ERR_MEMORY, "%s: out of memory", path);
    snprintf(tmp, tmp_cap, "%s.tmp.%ld", path, (long)getpid());

    pthread_mutex_lock(&pending_lock);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd >= 0)
        pending_add(tmp);
    pthread_mutex_unlock(&pending_lock);
    if (fd < 0) {
        int err = errno;
        arith_error(ARITH_ERR_IO, "%s: cannot create temporary file %s: %s", path, tmp,
                    strerror(err));
        free(tmp);
        return ARITH_ERR_IO;
    }
    const char *what = NULL;
    int err = write_all(fd, data, size);
    if (err)
        what = "cannot write";
    if (!what && fsync(fd) != 0) {
        what = "cannot fsync";
        err = errno;
    }
    if (close(fd) != 0 && !what) {
        what = "cannot close";
        err = errno;
    }
    pthread_mutex_lock(&pending_lock);
    if (!what && rename(tmp, path) != 0) {
        what = "cannot rename the temporary file over it";
        err = errno;
    }
    if (what)
        unlink(tmp);
    pending_remove(tmp);
    pthread_mutex_unlock(&pending_lock);
    free(tmp);
    if (what)
        return arith_error(ARITH_ERR_IO, "%s: %s: %s", path, what, strerror(err));
    sync_parent_dir(path);
    return ARITH_OK;
}

/* ---------------------------------------------------------------------------- appending */

arith_status io_append_open(io_append *f, const char *path)
{
    f->path = strdup(path);
    if (!f->path)
        return arith_error(ARITH_ERR_MEMORY, "%s: out of memory", path);
    f->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (f->fd < 0) {
        int err = errno;
        free(f->path);
        f->path = NULL;
        return arith_error(ARITH_ERR_IO, "%s: cannot open for appending: %s", path,
                           strerror(err));
    }
    return ARITH_OK;
}

arith_status io_append_write(io_append *f, const void *data, size_t size)
{
    off_t before = lseek(f->fd, 0, SEEK_END);
    if (before < 0)
        return arith_error(ARITH_ERR_IO, "%s: cannot seek: %s", f->path, strerror(errno));
    const uint8_t *p = data;
    size_t left = size;
    int err = fault_write() ? ENOSPC : 0;
    while (!err && left > 0) {
        ssize_t n = write(f->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = errno;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (!err)
        return ARITH_OK;
    /* a part of the text may be there (a disk that filled up during the write): cut it off,
     * so that the file holds whole lines */
    if (ftruncate(f->fd, before) != 0)
        return arith_error(ARITH_ERR_IO, "%s: cannot write: %s; cannot cut the partial write "
                           "off either: %s", f->path, strerror(err), strerror(errno));
    return arith_error(ARITH_ERR_IO, "%s: cannot write: %s", f->path, strerror(err));
}

arith_status io_append_close(io_append *f)
{
    arith_status st = ARITH_OK;
    if (f->fd >= 0) {
        if (fsync(f->fd) != 0 && errno != EINVAL)
            st = arith_error(ARITH_ERR_IO, "%s: cannot fsync: %s", f->path, strerror(errno));
        if (close(f->fd) != 0 && !st)
            st = arith_error(ARITH_ERR_IO, "%s: cannot close: %s", f->path, strerror(errno));
    }
    free(f->path);
    f->path = NULL;
    f->fd = -1;
    return st;
}

/* ------------------------------------------------------------------------ directory locks */

#define LOCK_FILE ".lock"

/* The process id written in a lock file (0 when it cannot be read yet). */
static long lock_holder(int fd)
{
    char buf[32];
    for (int tries = 0; tries < 20; tries++) {
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = '\0';
            long pid = strtol(buf, NULL, 10);
            if (pid > 0)
                return pid;
        }
        /* the holder may have its lock and not have written its id yet */
        struct timespec ms10 = {0, 10 * 1000 * 1000};
        nanosleep(&ms10, NULL);
    }
    return 0;
}

arith_status io_lock_dir(const char *dir, int *fd, long *holder)
{
    *fd = -1;
    if (holder)
        *holder = 0;
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, LOCK_FILE);
    if (n < 0 || (size_t)n >= sizeof path)
        return arith_error(ARITH_ERR_ARG, "path too long: %s/%s", dir, LOCK_FILE);
    int lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (lfd < 0)
        return arith_error(ARITH_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err == EWOULDBLOCK || err == EAGAIN) {
            long pid = lock_holder(lfd);
            close(lfd);
            if (holder)
                *holder = pid;
            if (pid > 0)
                return arith_error(ARITH_ERR_STATE, "%s is locked by process %ld", path, pid);
            return arith_error(ARITH_ERR_STATE, "%s is locked by another process", path);
        }
        close(lfd);
        return arith_error(ARITH_ERR_IO, "%s: cannot lock: %s", path, strerror(err));
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(lfd, 0) != 0 || pwrite(lfd, pid, (size_t)len, 0) != len) {
        int err = errno;
        close(lfd);
        return arith_error(ARITH_ERR_IO, "%s: cannot write: %s", path, strerror(err));
    }
    *fd = lfd;
    return ARITH_OK;
}

void io_unlock_dir(int fd)
{
    /* the file stays: removing it would let a process that opened it before the removal lock
     * a file nobody else sees; closing releases the lock */
    if (fd >= 0)
        close(fd);
}

/* ------------------------------------------------------------------ stale temporary files */

/* The process id in a temporary file's name "NAME.tmp.PID", or 0 when it is not one. */
static long temp_owner(const char *name)
{
    const char *tag = NULL;
    for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp."))
        tag = p;
    if (!tag || tag == name)
        return 0;
    const char *digits = tag + 5;
    if (*digits < '1' || *digits > '9')
        return 0;
    char *end = NULL;
    long pid = strtol(digits, &end, 10);
    return *end == '\0' && pid > 0 ? pid : 0;
}

arith_status io_remove_stale_temps(const char *dir, int *removed)
{
    if (removed)
        *removed = 0;
    DIR *d = opendir(dir);
    if (!d)
        return arith_error(ARITH_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    arith_status st = ARITH_OK;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        long pid = temp_owner(e->d_name);
        /* only files of processes that are gone: a live one may still rename its file */
        if (pid <= 0 || pid == (long)getpid() || !(kill((pid_t)pid, 0) == -1 && errno == ESRCH))
            continue;
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof path)
            continue;
        if (unlink(path) == 0) {
            if (removed)
                (*removed)++;
        } else if (errno != ENOENT) {
            st = arith_error(ARITH_ERR_IO, "%s: cannot remove this stale temporary file: %s",
                             path, strerror(errno));
            break;
        }
    }
    closedir(d);
    return st;
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

void text_put_xml(text_buffer *b, const char *s)
{
    while (*s) {
        size_t plain = strcspn(s, "&<>\"'\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f"
                                  "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c"
                                  "\x1d\x1e\x1f");
        if (plain)
            text_printf(b, "%.*s", (int)plain, s);
        s += plain;
        if (!*s)
            break;
        const char c = *s++;
        text_printf(b, "%s", c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;"
                             : c == '"' ? "&quot;" : c == '\'' ? "&#39;" : "\xef\xbf\xbd");
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
