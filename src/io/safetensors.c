/* io/safetensors: the safetensors format (github.com/huggingface/safetensors): a u64
 * little-endian header length N, N bytes of JSON header, then the tensors' bytes, little-endian.
 * The reader checks everything a truncated or corrupt file could get wrong before a single
 * tensor is used; the writer emits float32 tensors and string metadata, atomically, and on
 * request a checksum of the data region in the metadata (ST_CHECKSUM_KEY), which the reader
 * verifies when asked. */
#define _POSIX_C_SOURCE 200809L
#include "io/io.h"

#include <cjson/cJSON.h>
/* xxHash compiled in (the header holds the whole implementation): no library to link, for
 * libarith.so's users and libarith.a's alike, and XXH64 inlined into the one loop */
#define XXH_INLINE_ALL
#include <xxhash.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_METADATA_KEY "__metadata__"
/* the only algorithm written and read: "xxh64:" and XXH64 (seed 0) in 16 lowercase hex digits,
 * as xxhsum -H1 and Python's xxhash.xxh64().hexdigest() print it */
#define ST_CHECKSUM_PREFIX "xxh64:"

static const struct {
    const char *name;
    size_t size;
} st_dtypes[] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2}, [ST_F64] = {"F64", 8},
    [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4}, [ST_U8] = {"U8", 1},
};
#define ST_NDTYPES ((int)(sizeof st_dtypes / sizeof st_dtypes[0]))

const char *st_dtype_name(st_dtype dtype)
{
    return (int)dtype >= 0 && (int)dtype < ST_NDTYPES ? st_dtypes[dtype].name : "?";
}

size_t st_dtype_size(st_dtype dtype)
{
    return (int)dtype >= 0 && (int)dtype < ST_NDTYPES ? st_dtypes[dtype].size : 0;
}

/* ------------------------------------------------------------------ bytes and conversions */
/* Byte by byte, so the file is little-endian whatever this machine is. */

static uint16_t load_u16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t load_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t load_u64le(const uint8_t *p)
{
    return (uint64_t)load_u32le(p) | (uint64_t)load_u32le(p + 4) << 32;
}

static void store_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void store_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static float f32_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint32_t f32_to_bits(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Every value is exact in f32. */
float st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f)    /* infinity, or NaN with its payload kept */
        return f32_from_bits(sign | 0x7f800000u | mant << 13);
    if (exp != 0)       /* normal: rebias 15 -> 127 */
        return f32_from_bits(sign | (exp + 112) << 23 | mant << 13);
    /* zero or subnormal: mant * 2^-24, exact */
    float f = (float)mant * 0x1p-24f;
    return sign ? -f : f;
}

/* bfloat16 is the top half of a float32. */
float st_bf16_to_f32(uint16_t h)
{
    return f32_from_bits((uint32_t)h << 16);
}

static void format_shape(char *out, size_t cap, const int64_t *shape, int ndim)
{
    size_t len = 0;
    len += (size_t)snprintf(out, cap, "[");
    for (int d = 0; d < ndim && len < cap; d++)
        len += (size_t)snprintf(out + len, cap - len, "%s%" PRId64, d ? ", " : "", shape[d]);
    if (len < cap)
        snprintf(out + len, cap - len, "]");
}

/* ------------------------------------------------------------------------------- reading */

/* A JSON number that is a non-negative integer exactly representable as a double. */
static bool json_u64(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!(d >= 0.0 && d <= 9007199254740992.0) || d != floor(d))
        return false;
    *out = (uint64_t)d;
    return true;
}

static arith_status st_parse_tensor(st_tensor *t, const cJSON *item, const char *path,
                                    const uint8_t *blob, uint64_t blob_size)
{
    const char *name = item->string;
    if (strlen(name) >= sizeof t->name)
        return arith_error(ARITH_ERR_FORMAT, "%s: tensor name of %zu bytes is too long (at most "
                           "%zu): '%.60s...'", path, strlen(name), sizeof t->name - 1, name);
    snprintf(t->name, sizeof t->name, "%s", name);
    if (!cJSON_IsObject(item))
        return arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object",
                           path, name);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!dtype || !shape || !offsets)
        return arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s': missing \"%s\"", path, name,
                           !dtype ? "dtype" : !shape ? "shape" : "data_offsets");

    if (!cJSON_IsString(dtype))
        return arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s': dtype is not a string", path, name);
    int found = -1;
    for (int i = 0; i < ST_NDTYPES; i++)
        if (strcmp(dtype->valuestring, st_dtypes[i].name) == 0)
            found = i;
    if (found < 0)
        return arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%.40s' (known: F32, "
                           "F16, BF16, F64, I64, I32, U8)", path, name, dtype->valuestring);
    t->dtype = (st_dtype)found;

    if (!cJSON_IsArray(shape))
        return arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s': shape is not an array", path, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > PARAM_MAX_DIMS)
        return arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s': shape has %d dimensions (at most "
                           "%d)", path, name, ndim, PARAM_MAX_DIMS);
    t->ndim = ndim;
    int d = 0;
    bool has_zero = false;
    for (const cJSON *dim = shape->child; dim; dim = dim->next, d++) {
        uint64_t v;
        if (!json_u64(dim, &v))
            return arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s': shape[%d] is not a "
                               "non-negative integer", path, name, d);
        t->shape[d] = (int64_t)v;
        has_zero |= v == 0;
    }
    /* numel, saturating at UINT64_MAX (a shape that large cannot match any file) */
    uint64_t numel = has_zero ? 0 : 1;
    for (d = 0; d < ndim && numel; d++) {
        uint64_t v = (uint64_t)t->shape[d];
        numel = numel > UINT64_MAX / v ? UINT64_MAX : numel * v;
    }

    uint64_t begin, end;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        !json_u64(offsets->child, &begin) || !json_u64(offsets->child->next, &end))
        return arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s': data_offsets is not an array of "
                           "two non-negative integers", path, name);
    if (end < begin)
        return arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRIu64 ", %"
                           PRIu64 "] end before they begin", path, name, begin, end);
    if (end > blob_size)
        return arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRIu64 ", %"
                           PRIu64 "] past end of file (the data holds %" PRIu64 " bytes)",
                           path, name, begin, end, blob_size);

    char shape_text[128];
    format_shape(shape_text, sizeof shape_text, t->shape, ndim);
    size_t esize = st_dtypes[t->dtype].size;
    if (numel > blob_size / esize)
        return arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s': shape %s of %s is larger than the "
                           "file's %" PRIu64 " bytes of data", path, name, shape_text,
                           st_dtypes[t->dtype].name, blob_size);
    if (numel * esize != end - begin)
        return arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s': shape %s of %s needs %" PRIu64
                           " bytes but data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64,
                           path, name, shape_text, st_dtypes[t->dtype].name, numel * esize,
                           begin, end, end - begin);
    t->numel = (size_t)numel;
    t->nbytes = (size_t)(end - begin);
    t->data = blob + begin;
    return ARITH_OK;
}

static arith_status st_parse_metadata(st_file *file, const cJSON *item, const char *path)
{
    if (file->meta_keys)
        return arith_error(ARITH_ERR_FORMAT, "%s: header has two \"" ST_METADATA_KEY "\" entries",
                           path);
    if (!cJSON_IsObject(item))
        return arith_error(ARITH_ERR_FORMAT, "%s: \"" ST_METADATA_KEY "\" is not a JSON object",
                           path);
    int n = cJSON_GetArraySize(item);
    file->meta_keys = calloc((size_t)n + 1, sizeof *file->meta_keys);
    file->meta_values = calloc((size_t)n + 1, sizeof *file->meta_values);
    if (!file->meta_keys || !file->meta_values)
        return arith_error(ARITH_ERR_MEMORY, "%s: out of memory reading metadata", path);
    for (const cJSON *kv = item->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv))
            return arith_error(ARITH_ERR_FORMAT, "%s: " ST_METADATA_KEY " '%s': value is not a "
                               "string", path, kv->string);
        for (int i = 0; i < file->meta_count; i++)
            if (strcmp(file->meta_keys[i], kv->string) == 0)
                return arith_error(ARITH_ERR_FORMAT, "%s: " ST_METADATA_KEY " '%s' appears "
                                   "twice", path, kv->string);
        int i = file->meta_count;
        file->meta_keys[i] = strdup(kv->string);
        file->meta_values[i] = strdup(kv->valuestring);
        file->meta_count++;
        if (!file->meta_keys[i] || !file->meta_values[i])
            return arith_error(ARITH_ERR_MEMORY, "%s: out of memory reading metadata", path);
    }
    return ARITH_OK;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

static int cmp_tensor_data(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    return x->data < y->data ? -1 : x->data > y->data ? 1 : 0;
}

/* Names must be unique and the tensors' bytes must not overlap (as the reference reader). */
static arith_status st_check_layout(const st_file *file, const char *path, const uint8_t *blob)
{
    if (file->count < 2)
        return ARITH_OK;
    const st_tensor **sorted = malloc((size_t)file->count * sizeof *sorted);
    if (!sorted)
        return arith_error(ARITH_ERR_MEMORY, "%s: out of memory", path);
    for (int i = 0; i < file->count; i++)
        sorted[i] = &file->tensors[i];
    arith_status s = ARITH_OK;
    qsort(sorted, (size_t)file->count, sizeof *sorted, cmp_tensor_name);
    for (int i = 1; i < file->count && !s; i++)
        if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
            s = arith_error(ARITH_ERR_FORMAT, "%s: tensor '%s' appears twice in the header", path,
                            sorted[i]->name);
    qsort(sorted, (size_t)file->count, sizeof *sorted, cmp_tensor_data);
    const st_tensor *prev = NULL;
    for (int i = 0; i < file->count && !s; i++) {
        const st_tensor *t = sorted[i];
        if (t->nbytes == 0)
            continue;
        if (prev && t->data < prev->data + prev->nbytes)
            s = arith_error(ARITH_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap (data_offsets "
                            "[%zu, %zu] and [%zu, %zu])", path, prev->name, t->name,
                            (size_t)(prev->data - blob), (size_t)(prev->data - blob) + prev->nbytes,
                            (size_t)(t->data - blob), (size_t)(t->data - blob) + t->nbytes);
        prev = t;
    }
    free(sorted);
    return s;
}

/* What cJSON lets through but JSON (RFC 8259) does not: bytes that are not UTF-8, and control
 * characters inside strings. Returns the offset of the first bad byte, or n when all is well. */
static size_t header_bad_byte(const uint8_t *h, size_t n, const char **why)
{
    bool in_string = false;
    for (size_t i = 0; i < n;) {
        uint8_t c = h[i];
        if (c < 0x80) {
            if (c < 0x20 && (in_string || (c != ' ' && c != '\t' && c != '\n' && c != '\r'))) {
                *why = "a control character";
                return i;
            }
            if (in_string && c == '\\')
                i++;    /* skip the escaped character */
            else if (c == '"')
                in_string = !in_string;
            i++;
            continue;
        }
        /* a multi-byte UTF-8 sequence: lead byte, length, smallest code point it may encode */
        size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        uint32_t cp = len == 2 ? c & 0x1fu : len == 3 ? c & 0x0fu : c & 0x07u;
        bool ok = len != 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            ok = (h[i + k] & 0xc0) == 0x80;
            cp = cp << 6 | (h[i + k] & 0x3fu);
        }
        if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
                   (len == 4 && (cp < 0x10000 || cp > 0x10ffff))))
            ok = false;
        if (!ok) {
            *why = "bytes that are not UTF-8";
            return i;
        }
        i += len;
    }
    return n;
}

static arith_status st_parse(st_file *file, const char *path)
{
    const uint8_t *buf = file->buffer;
    size_t size = file->size;
    if (size < 8)
        return arith_error(ARITH_ERR_FORMAT, "%s: truncated: %zu bytes, too short for the 8-byte "
                           "header length", path, size);
    uint64_t n = load_u64le(buf);
    if (n > size - 8)
        return arith_error(ARITH_ERR_FORMAT, "%s: truncated: header says %" PRIu64 " bytes but "
                           "only %zu follow the 8-byte length", path, n, size - 8);
    if (n == 0)
        return arith_error(ARITH_ERR_FORMAT, "%s: header is empty (length 0)", path);

    const char *why = NULL;
    size_t bad = header_bad_byte(buf + 8, (size_t)n, &why);
    if (bad < n)
        return arith_error(ARITH_ERR_FORMAT, "%s: header is not valid JSON: %s at byte %zu of %"
                           PRIu64, path, why, bad, n);

    const char *header = (const char *)buf + 8;
    const char *parse_end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(header, (size_t)n, &parse_end, 0);
    if (!root)
        return arith_error(ARITH_ERR_FORMAT, "%s: header is not valid JSON (error near byte %td "
                           "of %" PRIu64 ")", path, parse_end ? parse_end - header : 0, n);
    arith_status s = ARITH_OK;
    for (const char *p = parse_end; p < header + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            s = arith_error(ARITH_ERR_FORMAT, "%s: header has bytes after its JSON (at byte %td "
                            "of %" PRIu64 ")", path, p - header, n);
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        s = arith_error(ARITH_ERR_FORMAT, "%s: header is not a JSON object", path);
        goto done;
    }

    const uint8_t *blob = buf + 8 + n;
    uint64_t blob_size = size - 8 - n;
    int entries = cJSON_GetArraySize(root);
    file->tensors = calloc((size_t)entries + 1, sizeof *file->tensors);
    if (!file->tensors) {
        s = arith_error(ARITH_ERR_MEMORY, "%s: out of memory for %d tensors", path, entries);
        goto done;
    }
    for (const cJSON *item = root->child; item && !s; item = item->next) {
        if (strcmp(item->string, ST_METADATA_KEY) == 0) {
            s = st_parse_metadata(file, item, path);
        } else {
            s = st_parse_tensor(&file->tensors[file->count], item, path, blob, blob_size);
            if (!s)
                file->count++;
        }
    }
    if (!s)
        s = st_check_layout(file, path, blob);
done:
    cJSON_Delete(root);
    return s;
}

arith_status st_read(st_file *file, const char *path)
{
    memset(file, 0, sizeof *file);
    char *data;
    size_t size;
    arith_status s = io_read_file(path, &data, &size);
    if (s)
        return s;
    file->buffer = (uint8_t *)data;
    file->size = size;
    file->path = strdup(path);
    if (!file->path)
        s = arith_error(ARITH_ERR_MEMORY, "%s: out of memory", path);
    if (!s)
        s = st_parse(file, path);
    if (s)
        st_free(file);
    return s;
}

void st_free(st_file *file)
{
    for (int i = 0; i < file->meta_count; i++) {
        free(file->meta_keys[i]);
        free(file->meta_values[i]);
    }
    free(file->meta_keys);
    free(file->meta_values);
    free(file->tensors);
    free(file->buffer);
    free(file->path);
    memset(file, 0, sizeof *file);
}

const st_tensor *st_find(const st_file *file, const char *name)
{
    for (int i = 0; i < file->count; i++)
        if (strcmp(file->tensors[i].name, name) == 0)
            return &file->tensors[i];
    return NULL;
}

const char *st_meta(const st_file *file, const char *key)
{
    for (int i = 0; i < file->meta_count; i++)
        if (strcmp(file->meta_keys[i], key) == 0)
            return file->meta_values[i];
    return NULL;
}

static const char *st_path(const st_file *file)
{
    return file->path ? file->path : "(safetensors)";
}

static void st_checksum_format(char out[ST_CHECKSUM_MAX], uint64_t hash)
{
    snprintf(out, ST_CHECKSUM_MAX, ST_CHECKSUM_PREFIX "%016" PRIx64, hash);
}

void st_checksum(const uint8_t *data, size_t n, char out[ST_CHECKSUM_MAX])
{
    st_checksum_format(out, XXH64(data, n, 0));
}

arith_status st_verify_checksum(const st_file *file, bool *present)
{
    const char *want = st_meta(file, ST_CHECKSUM_KEY);
    if (present)
        *present = want != NULL;
    if (!want)
        return ARITH_OK;
    const size_t prefix = sizeof ST_CHECKSUM_PREFIX - 1;
    if (strncmp(want, ST_CHECKSUM_PREFIX, prefix) != 0 || strlen(want) != prefix + 16 ||
        strspn(want + prefix, "0123456789abcdef") != 16)
        return arith_error(ARITH_ERR_FORMAT, "%s: metadata \"" ST_CHECKSUM_KEY "\" is \"%.80s\", "
                           "not a checksum this arith knows (" ST_CHECKSUM_PREFIX "and 16 "
                           "lowercase hex digits)", st_path(file), want);
    /* st_read checked the header length: the data region is what follows the header */
    const size_t header = 8 + (size_t)load_u64le(file->buffer);
    char got[ST_CHECKSUM_MAX];
    st_checksum(file->buffer + header, file->size - header, got);
    if (strcmp(got, want) != 0)
        return arith_error(ARITH_ERR_DATA, "%s: tensor data does not match its checksum (file "
                           "damaged?): the metadata says %s, the %zu bytes of data give %s",
                           st_path(file), want, file->size - header, got);
    return ARITH_OK;
}

static arith_status st_lookup(const st_file *file, const char *name, const st_tensor **out)
{
    *out = st_find(file, name);
    if (!*out)
        return arith_error(ARITH_ERR_DATA, "%s: no tensor named '%s'", st_path(file), name);
    return ARITH_OK;
}

arith_status st_copy_f32(const st_file *file, const char *name, float *dst, size_t numel)
{
    const st_tensor *t;
    arith_status s = st_lookup(file, name, &t);
    if (s)
        return s;
    if (t->numel != numel) {
        char shape_text[128];
        format_shape(shape_text, sizeof shape_text, t->shape, t->ndim);
        return arith_error(ARITH_ERR_DATA, "%s: tensor '%s' has shape %s (%zu values) but %zu "
                           "values were expected", st_path(file), name, shape_text, t->numel,
                           numel);
    }
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case ST_F32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (numel)
            memcpy(dst, p, numel * sizeof *dst);
#else
        for (size_t i = 0; i < numel; i++)
            dst[i] = f32_from_bits(load_u32le(p + 4 * i));
#endif
        return ARITH_OK;
    case ST_F16:
        for (size_t i = 0; i < numel; i++)
            dst[i] = st_f16_to_f32(load_u16le(p + 2 * i));
        return ARITH_OK;
    case ST_BF16:
        for (size_t i = 0; i < numel; i++)
            dst[i] = st_bf16_to_f32(load_u16le(p + 2 * i));
        return ARITH_OK;
    case ST_F64:
        for (size_t i = 0; i < numel; i++) {
            uint64_t bits = load_u64le(p + 8 * i);
            double v;
            memcpy(&v, &bits, sizeof v);
            dst[i] = (float)v;
        }
        return ARITH_OK;
    default:
        return arith_error(ARITH_ERR_DATA, "%s: tensor '%s' is %s; only F32, F16, BF16 and F64 "
                           "convert to float32", st_path(file), name, st_dtype_name(t->dtype));
    }
}

arith_status st_expect_shape(const st_file *file, const char *name, int ndim, const int64_t *shape)
{
    const st_tensor *t;
    arith_status s = st_lookup(file, name, &t);
    if (s)
        return s;
    bool same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = t->shape[d] == shape[d];
    if (same)
        return ARITH_OK;
    char have[128], want[128];
    format_shape(have, sizeof have, t->shape, t->ndim);
    format_shape(want, sizeof want, shape, ndim);
    return arith_error(ARITH_ERR_DATA, "%s: tensor '%s': shape %s in the file, %s expected",
                       st_path(file), name, have, want);
}

/* ------------------------------------------------------------------------------- writing */

static int cmp_entry_name(const void *a, const void *b)
{
    return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}

/* A JSON number printed exactly (cJSON would print doubles past 2^31 with %g). */
static cJSON *json_u64_raw(uint64_t v)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, v);
    return cJSON_CreateRaw(text);
}

static bool json_add(cJSON *object, const char *key, cJSON *item)
{
    if (!item)
        return false;
    if (!cJSON_AddItemToObject(object, key, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

static bool json_append(cJSON *array, cJSON *item)
{
    if (!item)
        return false;
    if (!cJSON_AddItemToArray(array, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

/* Checks the entries and metadata; fills numel[i]. */
static arith_status st_check_entries(const char *path, const st_entry *entries, int count,
                                     const char *const *meta_keys, const char *const *meta_values,
                                     int meta_count, bool checksum, uint64_t *numel)
{
    if (count < 0 || meta_count < 0)
        return arith_error(ARITH_ERR_ARG, "%s: st_write: negative count", path);
    for (int i = 0; i < count; i++) {
        const st_entry *e = &entries[i];
        if (!e->name || !e->name[0])
            return arith_error(ARITH_ERR_ARG, "%s: st_write: tensor %d has no name", path, i);
        if (strlen(e->name) >= PARAM_NAME_MAX * 2 || !strcmp(e->name, ST_METADATA_KEY))
            return arith_error(ARITH_ERR_ARG, "%s: st_write: bad tensor name '%.60s'", path,
                               e->name);
        if (e->ndim < 0 || e->ndim > PARAM_MAX_DIMS || (e->ndim > 0 && !e->shape))
            return arith_error(ARITH_ERR_ARG, "%s: st_write: tensor '%s': %d dimensions (0 to "
                               "%d)", path, e->name, e->ndim, PARAM_MAX_DIMS);
        uint64_t n = 1;
        for (int d = 0; d < e->ndim; d++) {
            if (e->shape[d] < 0 || (e->shape[d] > 0 && n > UINT64_MAX / 4 / (uint64_t)e->shape[d]))
                return arith_error(ARITH_ERR_ARG, "%s: st_write: tensor '%s': bad shape[%d] = %"
                                   PRId64, path, e->name, d, e->shape[d]);
            n *= (uint64_t)e->shape[d];
        }
        if (n > 0 && !e->data)
            return arith_error(ARITH_ERR_ARG, "%s: st_write: tensor '%s' has no data", path,
                               e->name);
        numel[i] = n;
    }
    for (int i = 0; i < meta_count; i++) {
        if (!meta_keys[i] || !meta_values[i])
            return arith_error(ARITH_ERR_ARG, "%s: st_write: metadata entry %d is NULL", path, i);
        for (int j = 0; j < i; j++)
            if (strcmp(meta_keys[i], meta_keys[j]) == 0)
                return arith_error(ARITH_ERR_ARG, "%s: st_write: metadata key '%s' given twice",
                                   path, meta_keys[i]);
        if (checksum && strcmp(meta_keys[i], ST_CHECKSUM_KEY) == 0)
            return arith_error(ARITH_ERR_ARG, "%s: st_write: metadata key '%s' is the writer's "
                               "own", path, meta_keys[i]);
    }
    return ARITH_OK;
}

/* XXH64 of the data region st_write lays out: each entry's floats in order, as little-endian
 * bytes, hashed as they stream past (the region is built only once the header is known) */
static uint64_t st_entries_hash(const st_entry *entries, int count, const uint64_t *numel)
{
    XXH64_state_t state;
    XXH64_reset(&state, 0);
    for (int i = 0; i < count; i++) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (numel[i])
            XXH64_update(&state, entries[i].data, (size_t)numel[i] * 4);
#else
        uint8_t chunk[16384];
        for (uint64_t j = 0; j < numel[i];) {
            size_t k = 0;
            for (; k < sizeof chunk && j < numel[i]; k += 4, j++)
                store_u32le(chunk + k, f32_to_bits(entries[i].data[j]));
            XXH64_update(&state, chunk, k);
        }
#endif
    }
    return XXH64_digest(&state);
}

static arith_status st_write_file(const char *path, const st_entry *entries, int count,
                                  const char *const *meta_keys, const char *const *meta_values,
                                  int meta_count, bool checksum)
{
    uint64_t *numel = calloc((size_t)(count > 0 ? count : 0) + 1, sizeof *numel);
    uint64_t *begin = calloc((size_t)(count > 0 ? count : 0) + 1, sizeof *begin);
    const st_entry **order = calloc((size_t)(count > 0 ? count : 0) + 1, sizeof *order);
    cJSON *root = NULL;
    char *header = NULL;
    uint8_t *out = NULL;
    arith_status s = ARITH_OK;
    if (!numel || !begin || !order) {
        s = arith_error(ARITH_ERR_MEMORY, "%s: out of memory", path);
        goto done;
    }
    s = st_check_entries(path, entries, count, meta_keys, meta_values, meta_count, checksum,
                         numel);
    if (s)
        goto done;

    /* Data in the order given; header keys sorted by name (the order is free in the format). */
    uint64_t data_bytes = 0;
    for (int i = 0; i < count; i++) {
        begin[i] = data_bytes;
        data_bytes += numel[i] * 4;
        order[i] = &entries[i];
    }
    qsort(order, (size_t)count, sizeof *order, cmp_entry_name);
    for (int i = 1; i < count; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
            s = arith_error(ARITH_ERR_ARG, "%s: st_write: tensor name '%s' given twice", path,
                            order[i]->name);
            goto done;
        }

    bool ok = (root = cJSON_CreateObject()) != NULL;
    if (ok && (meta_count > 0 || checksum)) {
        cJSON *meta = cJSON_CreateObject();
        ok = json_add(root, ST_METADATA_KEY, meta);
        for (int i = 0; ok && i < meta_count; i++)
            ok = json_add(meta, meta_keys[i], cJSON_CreateString(meta_values[i]));
        if (ok && checksum) {
            char text[ST_CHECKSUM_MAX];
            st_checksum_format(text, st_entries_hash(entries, count, numel));
            ok = json_add(meta, ST_CHECKSUM_KEY, cJSON_CreateString(text));
        }
    }
    for (int k = 0; ok && k < count; k++) {
        int i = (int)(order[k] - entries);
        cJSON *item = cJSON_CreateObject(), *shape = NULL, *offsets = NULL;
        ok = json_add(root, entries[i].name, item) &&
             json_add(item, "dtype", cJSON_CreateString("F32")) &&
             json_add(item, "shape", shape = cJSON_CreateArray()) &&
             json_add(item, "data_offsets", offsets = cJSON_CreateArray());
        for (int d = 0; ok && d < entries[i].ndim; d++)
            ok = json_append(shape, json_u64_raw((uint64_t)entries[i].shape[d]));
        ok = ok && json_append(offsets, json_u64_raw(begin[i])) &&
             json_append(offsets, json_u64_raw(begin[i] + numel[i] * 4));
    }
    if (ok)
        header = cJSON_PrintUnformatted(root);
    if (!header) {
        s = arith_error(ARITH_ERR_MEMORY, "%s: out of memory building the header", path);
        goto done;
    }

    size_t header_len = strlen(header);
    size_t padded = (header_len + 7) / 8 * 8;
    if (data_bytes > SIZE_MAX - 8 - padded) {
        s = arith_error(ARITH_ERR_ARG, "%s: st_write: %" PRIu64 " bytes of tensors is too much",
                        path, data_bytes);
        goto done;
    }
    size_t total = 8 + padded + (size_t)data_bytes;
    out = malloc(total);
    if (!out) {
        s = arith_error(ARITH_ERR_MEMORY, "%s: out of memory for %zu bytes", path, total);
        goto done;
    }
    store_u64le(out, padded);
    memcpy(out + 8, header, header_len);
    memset(out + 8 + header_len, ' ', padded - header_len);
    uint8_t *p = out + 8 + padded;
    for (int i = 0; i < count; i++)
        for (uint64_t j = 0; j < numel[i]; j++, p += 4)
            store_u32le(p, f32_to_bits(entries[i].data[j]));
    s = io_write_file_atomic(path, out, total);
done:
    free(out);
    cJSON_free(header);
    cJSON_Delete(root);
    free(order);
    free(numel);
    free(begin);
    return s;
}

arith_status st_write(const char *path, const st_entry *entries, int count,
                      const char *const *meta_keys, const char *const *meta_values, int meta_count)
{
    return st_write_file(path, entries, count, meta_keys, meta_values, meta_count, false);
}

arith_status st_write_checksummed(const char *path, const st_entry *entries, int count,
                                  const char *const *meta_keys, const char *const *meta_values,
                                  int meta_count)
{
    return st_write_file(path, entries, count, meta_keys, meta_values, meta_count, true);
}
