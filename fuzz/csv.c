/* The CSV readers on any bytes: csv_read (io/csv.c), then dataset_load_csv_as, which checks
 * every row against a task as `--train-csv` and `eval --csv` do. The first input byte picks
 * the task and its style; the rest is the file. */
#include "fuzz.h"
#include "data/data.h"
#include "data/symbolic.h"
#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int ntasks = 0;
    while (task_at(ntasks))
        ntasks++;
    task_config task = {.def = task_at(data[0] % ntasks), .digits = 12, .digits_min = 1};
    task.style = data[0] / ntasks % 2 && task.def->spaced ? STYLE_SPACED : STYLE_PLAIN;
    task.subtask = data[0] / ntasks / 2 % 2 ? SYM_INTEGRAL : SYM_DERIVATIVE;
    sym_config_default(&task.sym);
    const char *path = fuzz_file(data + 1, size - 1, ".csv");
    if (!path)
        return 0;
    csv_table table;
    if (csv_read(&table, path) == ARITH_OK) {
        (void)csv_column(&table, "src");
        csv_free(&table);
    }
    example_set set;
    examples_init(&set);
    (void)dataset_load_csv_as(&set, path, &task);
    examples_free(&set);
    examples_init(&set);
    (void)dataset_load_csv(&set, path);
    examples_free(&set);
    unlink(path);
    return 0;
}
