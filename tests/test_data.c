/* Tests of tasks, data sets, tokenizers and batches. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/core.h"
#include "data/data.h"

static void test_decimal_add(void)
{
    char out[64];
    decimal_add(out, sizeof out, "999", "1");
    CHECK_STR(out, "1000");
    decimal_add(out, sizeof out, "0", "0");
    CHECK_STR(out, "0");
    decimal_add(out, sizeof out, "9999999999", "1");
    CHECK_STR(out, "10000000000");
    decimal_add(out, sizeof out, "123456789", "987654321");
    CHECK_STR(out, "1111111110");
    decimal_add(out, sizeof out, "5", "123");
    CHECK_STR(out, "128");
    /* 30-digit operands: beyond any machine integer */
    decimal_add(out, sizeof out, "999999999999999999999999999999", "1");
    CHECK_STR(out, "1000000000000000000000000000000");
}

static void test_task_add(void)
{
    task_config task = {.kind = TASK_ADD, .digits = 9};
    rng_state rng;
    rng_seed(&rng, 7);
    char prompt[64], answer[64];
    int bad = 0, shorter = 0;
    for (int i = 0; i < 2000; i++) {
        CHECK_OK(task_sample(&task, &rng, prompt, sizeof prompt, answer, sizeof answer));
        unsigned long long a = 0, b = 0, sum = 0;
        char tail[8] = "";
        int fields = sscanf(prompt, "%llu+%llu%7s", &a, &b, tail);
        sum = strtoull(answer, NULL, 10);
        if (fields != 3 || strcmp(tail, "=") != 0 || sum != a + b || a >= 1000000000ULL ||
            (prompt[0] == '0' && prompt[1] != '+'))
            bad++;
        shorter += strchr(prompt, '+') - prompt < 9;
    }
    CHECK_EQ_INT(bad, 0);
    /* digits drawn one by one: about 10% of operands start with 0 and so are shorter */
    CHECK_MSG(shorter > 100 && shorter < 350, "%d of 2000 first operands had < 9 digits", shorter);
}

static bool contains(const example_set *set, const char *prompt)
{
    for (int i = 0; i < set->count; i++)
        if (strcmp(set->items[i].prompt, prompt) == 0)
            return true;
    return false;
}

static void test_dataset_generate(void)
{
    task_config task = {.kind = TASK_ADD, .digits = 2};
    example_set train, test, train2, test2;
    examples_init(&train);
    examples_init(&test);
    examples_init(&train2);
    examples_init(&test2);
    CHECK_OK(dataset_generate(&train, &test, &task, 3000, 500, 42, NULL));
    CHECK_EQ_INT(train.count, 3000);
    CHECK_EQ_INT(test.count, 500);
    int leaked = 0;
    for (int i = 0; i < test.count; i++)
        leaked += contains(&train, test.items[i].prompt);
    CHECK_EQ_INT(leaked, 0);
    /* same seed, same data */
    CHECK_OK(dataset_generate(&train2, &test2, &task, 3000, 500, 42, NULL));
    int same = 1;
    for (int i = 0; i < train.count; i++)
        same &= strcmp(train.items[i].prompt, train2.items[i].prompt) == 0;
    CHECK(same);
    examples_free(&train2);
    examples_free(&test2);
    /* excluded prompts never come back */
    examples_init(&train2);
    examples_init(&test2);
    CHECK_OK(dataset_generate(&train2, &test2, &task, 0, 1000, 43, &train));
    leaked = 0;
    for (int i = 0; i < test2.count; i++)
        leaked += contains(&train, test2.items[i].prompt);
    CHECK_EQ_INT(leaked, 0);
    examples_free(&train2);
    examples_free(&test2);
    /* 1-digit addition has only 100 prompts: asking for 200 is an error, not a hang */
    task.digits = 1;
    examples_init(&train2);
    examples_init(&test2);
    arith_status st = dataset_generate(&train2, &test2, &task, 150, 50, 1, NULL);
    CHECK_EQ_INT(st, ARITH_ERR_ARG);
    CHECK(strstr(arith_error_message(), "too few distinct prompts") != NULL);
    examples_free(&train2);
    examples_free(&test2);
    examples_free(&train);
    examples_free(&test);
}

static void test_tokenizer_pairs(void)
{
    tokenizer tok;
    CHECK_OK(tokenizer_init(&tok, TOK_PAIRS, 9, false));
    CHECK_EQ_INT(tok.vocab_size, 69);
    int32_t ids[32];
    int n = 0;
    /* the ids seed 001's notebook prints for these prompts */
    CHECK_OK(tok_encode_prompt(&tok, "123456789+145=", ids, 32, &n));
    const int32_t want1[] = {58, 52, 30, 20, 19, 18, 17, 16, 15, 10, 11};
    CHECK_EQ_INT(n, 11);
    for (int i = 0; i < 11; i++)
        CHECK_EQ_INT(ids[i], want1[i]);
    CHECK_OK(tok_encode_prompt(&tok, "1265+54323=", ids, 32, &n));
    const int32_t want2[] = {43, 37, 34, 27, 19, 14, 14, 14, 14, 10, 11};
    for (int i = 0; i < 11; i++)
        CHECK_EQ_INT(ids[i], want2[i]);
    char text[256];
    tok_describe(&tok, ids, n, text, sizeof text);
    CHECK_STR(text, "(3,5) (2,6) (2,3) (1,4) (0,5) (0,0) (0,0) (0,0) (0,0) + =");
    /* operands longer than the tokenizer's width, and other characters, are errors */
    CHECK_EQ_INT(tok_encode_prompt(&tok, "1234567890+1=", ids, 32, &n), ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "10 digits") != NULL);
    CHECK_EQ_INT(tok_encode_prompt(&tok, "12*3=", ids, 32, &n), ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "'*'") != NULL);
    CHECK_EQ_INT(tok_encode_prompt(&tok, "12+3", ids, 32, &n), ARITH_ERR_DATA);
    /* answers: digits then EOS; reversed on request, decoded back */
    CHECK_OK(tok_encode_answer(&tok, "1098", ids, 32, &n));
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_INT(ids[0], 1);
    CHECK_EQ_INT(ids[4], tok.eos_id);
    tokenizer rev;
    CHECK_OK(tokenizer_init(&rev, TOK_PAIRS, 9, true));
    CHECK_OK(tok_encode_answer(&rev, "1098", ids, 32, &n));
    CHECK_EQ_INT(ids[0], 8);
    CHECK_EQ_INT(ids[3], 1);
    tok_decode_answer(&rev, ids, n, text, sizeof text);
    CHECK_STR(text, "1098");
}

static void test_tokenizer_char(void)
{
    tokenizer tok;
    CHECK_OK(tokenizer_init(&tok, TOK_CHAR, 0, false));
    CHECK_EQ_INT(tok.vocab_size, 18);
    int32_t ids[32];
    int n = 0;
    CHECK_OK(tok_encode_prompt(&tok, "14*(43+20)=", ids, 32, &n));
    CHECK_EQ_INT(n, 11);
    CHECK_EQ_INT(ids[0], 1);
    CHECK_EQ_INT(ids[2], tok.char_to_id['*']);
    char text[64];
    tok_describe(&tok, ids, n, text, sizeof text);
    CHECK_STR(text, "1 4 * ( 4 3 + 2 0 ) =");
    arith_status st = tok_encode_prompt(&tok, "12 + 3=", ids, 32, &n);
    CHECK_EQ_INT(st, ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "' ' at position 3") != NULL);
    /* too long for the buffer is an error, never an overflow */
    CHECK_EQ_INT(tok_encode_prompt(&tok, "1234567890+1234567890=", ids, 8, &n), ARITH_ERR_DATA);
    /* a wrong id never decodes to a digit */
    int32_t junk[3] = {tok.plus_id, 3, tok.eos_id};
    tok_decode_answer(&tok, junk, 3, text, sizeof text);
    CHECK_STR(text, "?3");
    int32_t pad[2] = {tok.pad_id, tok.eos_id};
    tok_decode_answer(&tok, pad, 2, text, sizeof text);
    CHECK_STR(text, "?");
}

static void test_batches(void)
{
    tokenizer tok;
    CHECK_OK(tokenizer_init(&tok, TOK_CHAR, 0, false));
    example_set set;
    examples_init(&set);
    CHECK_OK(examples_push(&set, "12+345=", "357"));
    CHECK_OK(examples_push(&set, "1+2=", "3"));
    encoded_set enc;
    CHECK_OK(encoded_build(&enc, &set, &tok, "test"));
    CHECK_EQ_INT(enc.max_prompt, 7);
    CHECK_EQ_INT(enc.max_answer, 4);
    batch b;
    CHECK_OK(batch_alloc(&b, 4, 16));
    int32_t idx[2] = {0, 1};
    CHECK_OK(batch_fill_train(&b, &enc, idx, 2, tok.pad_id));
    CHECK_EQ_INT(b.T, 10); /* 7 + 4 - 1 */
    CHECK_EQ_INT(b.start[0], 0);
    CHECK_EQ_INT(b.start[1], 3);
    /* row 1: [PAD PAD PAD 1 + 2 = 3 PAD PAD], targets: '=' predicts 3, 3 predicts EOS */
    const int32_t *tok1 = b.tokens + 10, *tgt1 = b.targets + 10;
    CHECK_EQ_INT(tok1[0], tok.pad_id);
    CHECK_EQ_INT(tok1[3], 1);
    CHECK_EQ_INT(tok1[6], tok.equals_id);
    CHECK_EQ_INT(tok1[7], 3);
    CHECK_EQ_INT(tgt1[5], -1);
    CHECK_EQ_INT(tgt1[6], 3);
    CHECK_EQ_INT(tgt1[7], tok.eos_id);
    CHECK_EQ_INT(tgt1[8], -1);
    CHECK_EQ_INT(b.pos[10 + 3], 0);
    CHECK_EQ_INT(b.pos[10 + 7], 4);
    /* row 0: targets at columns 6..9 are 3 5 7 EOS */
    CHECK_EQ_INT(b.targets[6], 3);
    CHECK_EQ_INT(b.targets[9], tok.eos_id);
    CHECK_EQ_INT(b.tokens[9], 7);
    int counted = 0;
    for (int i = 0; i < 20; i++)
        counted += b.targets[i] >= 0;
    CHECK_EQ_INT(counted, 6);
    CHECK_OK(batch_fill_prompts(&b, &enc, idx, 2, tok.pad_id));
    CHECK_EQ_INT(b.T, 7);
    CHECK_EQ_INT(b.tokens[7 + 6], tok.equals_id);
    batch_free(&b);
    encoded_free(&enc);
    /* an unknown character names the example */
    CHECK_OK(examples_push(&set, "1 +2=", "3"));
    CHECK_EQ_INT(encoded_build(&enc, &set, &tok, "data.csv"), ARITH_ERR_DATA);
    CHECK(strstr(arith_error_message(), "data.csv, example 3") != NULL);
    examples_free(&set);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_csv(void)
{
    char dir[] = "/tmp/arith_test_data_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/seed000.csv", dir);
    /* seed 000's layout: an unnamed index column, quoted fields allowed */
    write_file(path, ",src,tgt\n0,14*(43+20)=,882\n1,\"3-50=\",-47\n");
    example_set set;
    examples_init(&set);
    CHECK_OK(dataset_load_csv(&set, path));
    CHECK_EQ_INT(set.count, 2);
    CHECK_STR(set.items[0].prompt, "14*(43+20)=");
    CHECK_STR(set.items[1].answer, "-47");
    examples_free(&set);
    /* a row without '=' names the file and line */
    write_file(path, "src,tgt\n1+1=,2\n2+2,4\n");
    examples_init(&set);
    CHECK_EQ_INT(dataset_load_csv(&set, path), ARITH_ERR_FORMAT);
    CHECK(strstr(arith_error_message(), "seed000.csv:3") != NULL);
    examples_free(&set);
    /* a missing column */
    write_file(path, "prompt,answer\n1+1=,2\n");
    examples_init(&set);
    CHECK_EQ_INT(dataset_load_csv(&set, path), ARITH_ERR_FORMAT);
    CHECK(strstr(arith_error_message(), "'src' and 'tgt'") != NULL);
    examples_free(&set);
    /* save and load back */
    examples_init(&set);
    CHECK_OK(examples_push(&set, "1+2=", "3"));
    CHECK_OK(examples_push(&set, "40+2=", "42"));
    CHECK_OK(dataset_save_csv(&set, path));
    example_set back;
    examples_init(&back);
    CHECK_OK(dataset_load_csv(&back, path));
    CHECK_EQ_INT(back.count, 2);
    CHECK_STR(back.items[1].prompt, "40+2=");
    CHECK_STR(back.items[1].answer, "42");
    examples_free(&back);
    examples_free(&set);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_decimal_add();
    test_task_add();
    test_dataset_generate();
    test_tokenizer_pairs();
    test_tokenizer_char();
    test_batches();
    test_csv();
    return check_summary("test_data");
}
