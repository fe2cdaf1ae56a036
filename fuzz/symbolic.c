/* The symbolic parser (data/symbolic.c) on any text: checking, printing back, simplifying,
 * differentiating, evaluating and comparing prefix expressions, as the symbolic tasks read
 * CSV rows and judge generated answers. The input is "PROMPT\tHYPOTHESIS" or one expression. */
#include "fuzz.h"
#include "data/symbolic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = fuzz_string(data, size);
    if (!text)
        return 0;
    char *second = strchr(text, '\t');
    if (second)
        *second++ = '\0';
    static char out[65536];
    if (sym_check(text) == ARITH_OK) {
        (void)sym_format(text, out, sizeof out);
        (void)sym_simplify(text, out, sizeof out);
        (void)sym_derivative(text, false, out, sizeof out);
        (void)sym_derivative(text, true, out, sizeof out);
        double v;
        (void)sym_eval(text, 0.5, &v);
        (void)sym_token_count(text);
        (void)sym_defined(text);
    }
    if (second) {
        (void)sym_equivalent(SYM_DERIVATIVE, text, text, second);
        (void)sym_equivalent(SYM_INTEGRAL, text, NULL, second);
    }
    free(text);
    return 0;
}
