/* Prompt parsing on any text: the tokenizers (char with every digit format and the
 * scratchpad, seed 001's pairs, the symbolic words) encode "PROMPT" or "PROMPT,ANSWER" as
 * `arith predict` and the data sets do, and decode ids back as generation does. The first
 * input byte picks the tokenizer, the task and the formats. */
#include "fuzz.h"
#include "data/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 2048)
        return 0;
    const uint8_t pick = data[0];
    char *text = fuzz_string(data + 1, size - 1);
    if (!text)
        return 0;
    char *answer = strchr(text, ',');
    if (answer)
        *answer++ = '\0';
    int ntasks = 0;
    while (task_at(ntasks))
        ntasks++;
    const task_def *def = task_at(pick % ntasks);
    const tokenizer_kind kinds[3] = {TOK_CHAR, TOK_PAIRS, TOK_WORDS};
    const tokenizer_kind kind = kinds[pick / 8 % 3];
    static tokenizer tok;
    if (tokenizer_init(&tok, kind, 9, pick & 0x80) == ARITH_OK &&
        tokenizer_set_format(&tok, def->format, pick & 0x20, pick & 0x40, pick & 0x10) ==
            ARITH_OK &&
        tokenizer_set_scratchpad(&tok, (pick & 0x30) == 0x30) == ARITH_OK) {
        enum { CAP = 8192 };
        static int32_t ids[CAP], idx[CAP], sig[CAP];
        int n = 0, np = 0, na = 0, width = 0;
        (void)tok_encode_prompt(&tok, text, ids, CAP, &n);
        if (answer &&
            tok_encode_example(&tok, text, answer, ids, idx, sig, CAP, &np, &na, &width) ==
                ARITH_OK) {
            static char out[4 * CAP];
            tok_decode_answer(&tok, ids + np, na, out, sizeof out);
            tok_decode_scratchpad(&tok, ids + np, na, out, sizeof out);
            tok_describe(&tok, ids, np + na, out, sizeof out);
        }
        /* any ids at all, as a model may generate them */
        static int32_t gen[1024];
        int ng = 0;
        for (size_t i = 1; i + 1 < size && ng < 1024; i += 2)
            gen[ng++] = (int32_t)(data[i] | data[i + 1] << 8) % (tok.vocab_size + 2) - 1;
        static char out[8192];
        tok_decode_answer(&tok, gen, ng, out, sizeof out);
        tok_decode_scratchpad(&tok, gen, ng, out, sizeof out);
        tok_describe(&tok, gen, ng, out, sizeof out);
    }
    free(text);
    return 0;
}
