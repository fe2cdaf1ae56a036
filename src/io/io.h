/* io: files in and out. safetensors (read and write), CSV (RFC 4180, with file:line errors),
 * whole-file reads, and atomic writes (temporary file + fsync + rename: a crash never leaves a
 * half-written file under the final name). */
#ifndef ARITH_IO_H
#define ARITH_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ------------------------------------------------------------------------------ raw files */

/* Reads a whole file; *data is NUL-terminated (not counted in *size); free with free(). */
arith_status io_read_file(const char *path, char **data, size_t *size);
/* Writes data to path atomically: path.tmp.<pid> is written, flushed, fsynced, then renamed
 * over path. On any failure the temporary file is removed and path is untouched. A path that
 * is a FIFO, a character device or a socket is written into, not replaced; a symbolic link's
 * target is replaced, not the link. */
arith_status io_write_file_atomic(const char *path, const void *data, size_t size);

/* A file that grows by appends (metrics.jsonl): each io_append_write is checked, and one that
 * fails (a full disk) is cut off again, so the file holds whole writes only; the error names
 * the file. */
typedef struct {
    int fd;
    char *path;
} io_append;
arith_status io_append_open(io_append *f, const char *path);
arith_status io_append_write(io_append *f, const void *data, size_t size);
/* fsyncs and closes; errors name the file. */
arith_status io_append_close(io_append *f);

/* Test hook (tests only): with ARITH_FAIL_WRITE_AFTER=N in the environment, every checked write
 * after the first N (each atomic file and each append counts one) fails with ENOSPC, as on a
 * full disk. The variable is read at the first checked write; this makes the next one read it
 * again (and start counting anew). */
void io_fault_reset(void);
/* Removes the temporary files of atomic writes in progress, if any, for a process that must
 * exit at once (the files under their final names are untouched either way). Called from a
 * thread, not a signal handler: it takes a lock it never gives back, so no other thread can
 * create or rename a temporary file before the caller ends the process. */
void io_discard_pending(void);

/* One writer per directory: an exclusive, non-blocking flock on DIR/.lock, which then holds
 * this process's id; *fd keeps the lock until io_unlock_dir (or the process's end). Held by
 * another process: ARITH_ERR_STATE with *holder (may be NULL) its id, 0 when unknown. */
arith_status io_lock_dir(const char *dir, int *fd, long *holder);
void io_unlock_dir(int fd);
/* Removes the temporary files of atomic writes (NAME.tmp.PID) in dir whose process is gone
 * (kill(PID, 0) fails with ESRCH); *removed (may be NULL) counts them. */
arith_status io_remove_stale_temps(const char *dir, int *removed);

/* out = "dir/file"; a path longer than cap is ARITH_ERR_ARG naming it. */
arith_status io_join_path(char *out, size_t cap, const char *dir, const char *file);

/* A text built by printf pieces, then written atomically (CSV, SVG). Start it as {0}; a failed
 * allocation marks it failed and later pieces are dropped. */
typedef struct {
    char *text;
    size_t len, cap;
    bool failed;
} text_buffer;
void text_printf(text_buffer *b, const char *fmt, ...) ARITH_PRINTF(2, 3);
/* Appends s escaped for XML and HTML text and attribute values: & < > " ' as entities, and
 * control characters other than tab, newline and carriage return (which XML 1.0 forbids even
 * as entities) as U+FFFD. The one escaper of every SVG and HTML writer: a run directory, a
 * prompt or a token may hold any of them. */
void text_put_xml(text_buffer *b, const char *s);
/* Writes the text to path atomically (io_write_file_atomic) and frees it; a failed buffer is
 * ARITH_ERR_MEMORY naming the path. */
arith_status text_write_atomic(text_buffer *b, const char *path);

/* ---------------------------------------------------------------------------- safetensors */
/* Format: u64 little-endian header length N, N bytes of JSON header
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "string value", ...}}, then the data blob (little-endian). */

typedef enum {
    ST_F32 = 0,
    ST_F16,
    ST_BF16,
    ST_F64,
    ST_I64,
    ST_I32,
    ST_U8,
} st_dtype;

typedef struct {
    char name[PARAM_NAME_MAX * 2];
    st_dtype dtype;
    int ndim;
    int64_t shape[PARAM_MAX_DIMS];
    size_t numel;
    const uint8_t *data;   /* points into the file's blob */
    size_t nbytes;
} st_tensor;

typedef struct {
    st_tensor *tensors;
    int count;
    char **meta_keys;      /* __metadata__ entries, in file order */
    char **meta_values;
    int meta_count;
    uint8_t *buffer;       /* the whole file */
    size_t size;
    char *path;            /* the path it was read from, for error messages (owned) */
} st_file;

/* Reads and validates a safetensors file: header length within the file, JSON that parses
 * (UTF-8, an object), known dtypes, shapes that match byte counts, offsets inside the blob,
 * unique names, no two tensors' bytes overlapping, string metadata. Errors name the path
 * and what is wrong ("truncated", "tensor 'x': data_offsets past end of file", ...): a bad file
 * is ARITH_ERR_FORMAT, one that cannot be read ARITH_ERR_IO. */
arith_status st_read(st_file *file, const char *path);
void st_free(st_file *file);
const st_tensor *st_find(const st_file *file, const char *name);
/* Value of a __metadata__ key, or NULL. */
const char *st_meta(const st_file *file, const char *key);

/* The data region's checksum in the metadata: "xxh64:" and XXH64 (seed 0) of every byte after
 * the header, in 16 lowercase hex digits (what `xxhsum -H1` prints for those bytes). XXH64 runs
 * at memory speed, so verifying costs little beside reading the file. */
#define ST_CHECKSUM_KEY "data_checksum"
#define ST_CHECKSUM_MAX 32
/* The checksum text of n bytes, as the metadata holds it. */
void st_checksum(const uint8_t *data, size_t n, char out[ST_CHECKSUM_MAX]);
/* Checks the file's data region against its ST_CHECKSUM_KEY. A file without the key passes
 * (files of older versions, of other writers) and *present (when given) says which it was. A
 * value of another form is ARITH_ERR_FORMAT; a mismatch ARITH_ERR_DATA naming the file,
 * "does not match its checksum", and both checksums. */
arith_status st_verify_checksum(const st_file *file, bool *present);
/* Copies tensor `name` into dst as float32 (F32, F16, BF16 and F64 are converted). The tensor
 * must have exactly `numel` elements; errors (ARITH_ERR_DATA: no such tensor, an integer dtype,
 * another size) name the file, the tensor, its shape and the expected count. */
arith_status st_copy_f32(const st_file *file, const char *name, float *dst, size_t numel);
/* Checks that tensor `name` exists with exactly this shape (ARITH_ERR_DATA if not); the error
 * names the file, the tensor and both shapes
 * ("x.safetensors: tensor 'w': shape [4, 3] in the file, [3, 4] expected"). */
arith_status st_expect_shape(const st_file *file, const char *name, int ndim, const int64_t *shape);
/* "F32", "BF16", ...; and the size of one element in bytes. */
const char *st_dtype_name(st_dtype dtype);
size_t st_dtype_size(st_dtype dtype);
/* Exact conversions of IEEE half (F16, subnormals, infinities and NaN included) and bfloat16. */
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t h);

/* A tensor to write: float32 data. */
typedef struct {
    const char *name;
    int ndim;
    const int64_t *shape;
    const float *data;
} st_entry;

/* Writes tensors (in the given order, sorted by name in the header as safetensors does not
 * require an order) and string metadata atomically (io_write_file_atomic). The header is padded
 * with spaces to a multiple of 8 bytes. */
arith_status st_write(const char *path, const st_entry *entries, int count,
                      const char *const *meta_keys, const char *const *meta_values, int meta_count);
/* st_write, with the checksum of the data region (every byte after the header) added to the
 * metadata under ST_CHECKSUM_KEY, a key the caller may not give. The file stays plain
 * safetensors: the checksum is one more string. */
arith_status st_write_checksummed(const char *path, const st_entry *entries, int count,
                                  const char *const *meta_keys, const char *const *meta_values,
                                  int meta_count);

/* ------------------------------------------------------------------------------------ csv */

typedef struct {
    int nfields;
    char **fields;
    int line;              /* 1-based line number where the row starts */
} csv_row;

typedef struct {
    char *path;
    int ncols;
    char **header;         /* column names from the first row */
    csv_row *rows;         /* data rows (header excluded) */
    int nrows;
    char *text;            /* owns every field's characters (header and row fields point here) */
} csv_table;

/* Reads a CSV file with a header row: commas, double-quoted fields with "" escapes and
 * embedded commas/newlines, \n or \r\n line ends, blank lines skipped, a leading UTF-8
 * byte-order mark skipped. Every data row must have as many fields as the header; an
 * unterminated quote, text after a closing quote or a short/long row is an error naming
 * path:line (ARITH_ERR_FORMAT; an empty file too; a missing file is ARITH_ERR_IO). A quote
 * inside an unquoted field is kept as it is. */
arith_status csv_read(csv_table *table, const char *path);
void csv_free(csv_table *table);
/* Index of the column with this name, or -1. */
int csv_column(const csv_table *table, const char *name);
/* Appends one field to a growing buffer, quoted when it holds a comma, quote, \n or \r; the
 * caller adds the ',' and '\n' between fields. Start with *buf = NULL, *len = *cap = 0; the
 * buffer stays NUL-terminated. If an allocation fails the buffer is freed, *buf is left NULL
 * and later calls do nothing (*cap is set to SIZE_MAX), so a caller checks *buf once at the end. */
void csv_format_field(char **buf, size_t *len, size_t *cap, const char *field);

#endif
