/* The config loader on any text: train_config_from_json (cJSON, then every key checked against
 * train's flags), as `arith train --config FILE` and resuming a run read config.json, and the
 * result written back out. */
#include "fuzz.h"
#include "train/train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *json = fuzz_string(data, size);
    if (!json)
        return 0;
    train_config cfg;
    train_config_defaults(&cfg);
    if (train_config_from_json(&cfg, json, "fuzz.json") == ARITH_OK) {
        char *back = train_config_to_json(&cfg);
        train_config again;
        train_config_defaults(&again);
        if (back && train_config_from_json(&again, back, "back.json") != ARITH_OK)
            abort(); /* what arith writes, it must read */
        free(back);
    }
    free(json);
    return 0;
}
