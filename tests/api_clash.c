/* A program linked with libarith.a may use the names the library uses inside: libarith.a's
 * internal symbols are local, so these definitions of evaluate, batch, mat_mul and session_open
 * link without a clash, and the library still calls its own. */
#include <arith.h>
#include <stdio.h>
#include <string.h>

int evaluate(int x);
void mat_mul(int *out);
const char *session_open(void);
int batch = 7;

int evaluate(int x)
{
    return x + batch;
}

void mat_mul(int *out)
{
    *out = 42;
}

const char *session_open(void)
{
    return "mine";
}

int main(void)
{
    int m = 0;
    mat_mul(&m);
    arith_run *run = NULL;
    arith_status st = arith_run_open("/nonexistent/run", "best", &run);
    int ok = evaluate(1) == 8 && m == 42 && strcmp(session_open(), "mine") == 0 &&
             st == ARITH_ERR_IO && run == NULL &&
             strcmp(arith_last_error(), "/nonexistent/run: no such run directory") == 0;
    printf("api_clash: %s (library says: %s)\n", ok ? "ok" : "FAILED", arith_last_error());
    return ok ? 0 : 1;
}
