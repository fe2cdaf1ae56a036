/* io/csv: an RFC 4180 reader (header row, double-quoted fields with "" escapes, embedded commas
 * and newlines, \n or \r\n line ends, blank lines skipped) whose every error names path:line,
 * and a field formatter for writers. Fields are unescaped in place inside the file's own buffer
 * (unescaping only ever shrinks text), so a table costs one read plus one array of pointers. */
#define _POSIX_C_SOURCE 200809L
#include "io/io.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t *v;
    size_t n, cap;
} size_vec;

static bool size_vec_push(size_vec *vec, size_t x)
{
    if (vec->n == vec->cap) {
        size_t cap = vec->cap ? vec->cap * 2 : 256;
        size_t *v = realloc(vec->v, cap * sizeof *v);
        if (!v)
            return false;
        vec->v = v;
        vec->cap = cap;
    }
    vec->v[vec->n++] = x;
    return true;
}

static bool is_crlf(const char *text, size_t i, size_t n)
{
    return text[i] == '\r' && i + 1 < n && text[i + 1] == '\n';
}

/* Parses text[0..n) in place. Each field's characters are moved down to the write position w
 * (w <= i always: quotes and escapes are dropped, never added) and NUL-terminated where its
 * delimiter was; text[n] is the NUL io_read_file puts after the data. Records each field's
 * start in `starts` and each row as two entries (line, field count) in `rows`. */
static arith_status csv_parse(char *text, size_t n, const char *path, size_vec *starts,
                              size_vec *rows)
{
    size_t i = 0, w = 0;
    int line = 1;
    size_t ncols = 0;
    if (n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3;    /* a UTF-8 byte-order mark, as spreadsheets write */
    while (i < n) {
        if (text[i] == '\n' || is_crlf(text, i, n)) {    /* blank line */
            i += text[i] == '\n' ? 1 : 2;
            line++;
            continue;
        }
        int row_line = line;
        size_t nfields = 0;
        for (bool row_end = false; !row_end;) {
            if (!size_vec_push(starts, w))
                return arith_error(ARITH_ERR_MEMORY, "%s:%d: out of memory", path, line);
            nfields++;
            if (i < n && text[i] == '"') {
                int quote_line = line;
                i++;
                for (;;) {
                    if (i >= n)
                        return arith_error(ARITH_ERR_FORMAT, "%s:%d: unterminated quoted field",
                                           path, quote_line);
                    char c = text[i++];
                    if (c == '"') {
                        if (i < n && text[i] == '"')
                            i++;    /* "" is one quote */
                        else
                            break;
                    } else if (c == '\n') {
                        line++;
                    } else if (c == '\0') {
                        return arith_error(ARITH_ERR_FORMAT, "%s:%d: NUL byte in the file", path,
                                           line);
                    }
                    text[w++] = c;
                }
            } else {
                while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\0' &&
                       !is_crlf(text, i, n))
                    text[w++] = text[i++];
            }
            /* the delimiter after the field */
            if (i >= n) {
                row_end = true;
            } else if (text[i] == ',') {
                i++;
            } else if (text[i] == '\n' || is_crlf(text, i, n)) {
                i += text[i] == '\n' ? 1 : 2;
                line++;
                row_end = true;
            } else if (text[i] == '\0') {
                return arith_error(ARITH_ERR_FORMAT, "%s:%d: NUL byte in the file", path, line);
            } else {
                return arith_error(ARITH_ERR_FORMAT, "%s:%d: unexpected '%c' after a closing "
                                   "quote (a quote inside a quoted field is written \"\")", path,
                                   line, text[i]);
            }
            text[w++] = '\0';
        }
        if (rows->n == 0)
            ncols = nfields;
        else if (nfields != ncols)
            return arith_error(ARITH_ERR_FORMAT, "%s:%d: expected %zu fields, found %zu", path,
                               row_line, ncols, nfields);
        if (nfields > INT_MAX || rows->n / 2 >= INT_MAX)
            return arith_error(ARITH_ERR_DATA, "%s:%d: too many fields or rows", path, row_line);
        if (!size_vec_push(rows, (size_t)row_line) || !size_vec_push(rows, nfields))
            return arith_error(ARITH_ERR_MEMORY, "%s:%d: out of memory", path, line);
    }
    if (rows->n == 0)
        return arith_error(ARITH_ERR_FORMAT, "%s: empty file (a header row is required)", path);
    return ARITH_OK;
}

arith_status csv_read(csv_table *table, const char *path)
{
    memset(table, 0, sizeof *table);
    char *text;
    size_t n;
    arith_status s = io_read_file(path, &text, &n);
    if (s)
        return s;
    table->text = text;
    table->path = strdup(path);
    if (!table->path) {
        csv_free(table);
        return arith_error(ARITH_ERR_MEMORY, "%s: out of memory", path);
    }
    size_vec starts = {0}, rows = {0};
    s = csv_parse(text, n, path, &starts, &rows);
    if (!s) {
        /* One block: the csv_row array, then every field pointer (header first). */
        size_t nrows = rows.n / 2 - 1;
        void *block = malloc(nrows * sizeof(csv_row) + starts.n * sizeof(char *));
        if (!block) {
            s = arith_error(ARITH_ERR_MEMORY, "%s: out of memory for %zu rows", path, nrows);
        } else {
            csv_row *out = block;
            char **ptrs = (char **)(out + nrows);
            for (size_t k = 0; k < starts.n; k++)
                ptrs[k] = text + starts.v[k];
            table->ncols = (int)rows.v[1];
            table->header = ptrs;
            table->rows = out;    /* owns the block even when nrows == 0 */
            table->nrows = (int)nrows;
            size_t next = rows.v[1];
            for (size_t r = 0; r < nrows; r++) {
                out[r].line = (int)rows.v[2 * (r + 1)];
                out[r].nfields = (int)rows.v[2 * (r + 1) + 1];
                out[r].fields = ptrs + next;
                next += (size_t)out[r].nfields;
            }
        }
    }
    free(starts.v);
    free(rows.v);
    if (s)
        csv_free(table);
    return s;
}

void csv_free(csv_table *table)
{
    free(table->rows);    /* one block with the header's and every row's field pointers */
    free(table->text);
    free(table->path);
    memset(table, 0, sizeof *table);
}

int csv_column(const csv_table *table, const char *name)
{
    for (int i = 0; i < table->ncols; i++)
        if (strcmp(table->header[i], name) == 0)
            return i;
    return -1;
}

void csv_format_field(char **buf, size_t *len, size_t *cap, const char *field)
{
    if (!*buf && *cap == SIZE_MAX)
        return;    /* an earlier allocation failed */
    bool quote = strpbrk(field, ",\"\n\r") != NULL;
    size_t flen = strlen(field);
    size_t need = flen + 1;    /* the field and the NUL */
    if (quote) {
        need += 2;
        for (const char *p = field; *p; p++)
            need += *p == '"';
    }
    if (!*buf || need > *cap - *len) {
        size_t new_cap = *cap > 32 ? *cap : 32;
        while (new_cap - *len < need && new_cap <= SIZE_MAX / 2)
            new_cap *= 2;
        char *grown = new_cap - *len >= need ? realloc(*buf, new_cap) : NULL;
        if (!grown) {
            free(*buf);
            *buf = NULL;
            *len = 0;
            *cap = SIZE_MAX;
            return;
        }
        *buf = grown;
        *cap = new_cap;
    }
    char *out = *buf + *len;
    if (quote) {
        *out++ = '"';
        for (const char *p = field; *p; p++) {
            if (*p == '"')
                *out++ = '"';
            *out++ = *p;
        }
        *out++ = '"';
    } else {
        memcpy(out, field, flen);
        out += flen;
    }
    *out = '\0';
    *len = (size_t)(out - *buf);
}
