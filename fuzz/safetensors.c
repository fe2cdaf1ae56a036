/* The safetensors reader (io/safetensors.c) on any bytes: st_read validates the header and
 * offsets, the data checksum is verified as checkpoints' are (any "data_checksum" text), then
 * every tensor is read back as float32 the way checkpoints are loaded. */
#include "fuzz.h"
#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size, ".safetensors");
    if (!path)
        return 0;
    st_file file;
    if (st_read(&file, path) == ARITH_OK) {
        (void)st_verify_checksum(&file, NULL);
        for (int i = 0; i < file.count; i++) {
            const st_tensor *t = &file.tensors[i];
            size_t numel = 1;
            for (int d = 0; d < t->ndim; d++)
                numel *= (size_t)t->shape[d];
            if (numel > (1u << 20))
                continue;
            float *dst = malloc((numel ? numel : 1) * sizeof *dst);
            if (dst)
                (void)st_copy_f32(&file, t->name, dst, numel);
            free(dst);
            (void)st_expect_shape(&file, t->name, t->ndim, t->shape);
        }
        for (int i = 0; i < file.meta_count; i++)
            (void)st_meta(&file, file.meta_keys[i]);
        st_free(&file);
    }
    unlink(path);
    return 0;
}
