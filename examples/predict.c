/* predict: a trained run answers prompts, through libarith's public API alone.
 *   predict RUN_DIR [PROMPT ...]     answers each PROMPT, or each line of stdin, one per line
 * Build: cc predict.c $(pkg-config --cflags --libs arith) -o predict */
#include <arith.h>
#include <stdio.h>
#include <string.h>

/* Prints run's answer to prompt; 1 (after the library's message) when it has none. */
static int answer(arith_run *run, const char *prompt)
{
    char text[4096];
    if (arith_run_predict(run, prompt, text, sizeof text) != ARITH_OK)
        return fprintf(stderr, "predict: %s\n", arith_last_error()), 1;
    printf("%s\n", text);
    return 0;
}

int main(int argc, char **argv)
{
    arith_run *run;
    if (argc < 2)
        return fprintf(stderr, "usage: predict RUN_DIR [PROMPT ...]\n"), 2;
    if (arith_run_open(argv[1], "best", &run) != ARITH_OK)
        return fprintf(stderr, "predict: %s\n", arith_last_error()), 1;
    int rc = 0;
    for (int i = 2; i < argc && rc == 0; i++)
        rc = answer(run, argv[i]);
    char line[4096];
    while (argc == 2 && rc == 0 && fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        rc = answer(run, line);
    }
    arith_run_close(run);
    return rc;
}
