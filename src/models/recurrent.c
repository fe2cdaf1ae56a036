/* The recurrent families' registry entries: the LSTM language model and regressor (lstm.c) and
 * the bidirectional LSTM encoder-decoder (seq2seq.c). They share their checks and their
 * description; neither takes a positional scheme (the recurrence orders the tokens) nor has a
 * context limit. */
#include <stdio.h>
#include <string.h>

#include "models/model.h"

static arith_status recurrent_check(const model_config *cfg)
{
    if (cfg->hidden < 1 || cfg->hidden > 65536)
        return arith_error(ARITH_ERR_ARG, "--hidden must be between 1 and 65536 (got %d)",
                           cfg->hidden);
    if (cfg->input == INPUT_EMBED && cfg->d_model < 1)
        return arith_error(ARITH_ERR_ARG, "--d-model (the embedding width) must be at least 1 "
                           "(got %d)", cfg->d_model);
    if (cfg->layers < 1 || cfg->layers > 64)
        return arith_error(ARITH_ERR_ARG, "--layers must be between 1 and 64 for recurrent "
                           "models (got %d)", cfg->layers);
    if (cfg->context < 1 || cfg->context > 65536)
        return arith_error(ARITH_ERR_ARG, "context of %d tokens is out of range (1..65536)",
                           cfg->context);
    return ARITH_OK;
}

static arith_status seq2seq_check(const model_config *cfg)
{
    if (cfg->head != HEAD_LM)
        return arith_error(ARITH_ERR_ARG, "--model seq2seq has only the lm head (got --head %s)",
                           head_kind_name(cfg->head));
    if (cfg->answer_len < 1)
        return arith_error(ARITH_ERR_ARG, "seq2seq needs the answer length (got %d)",
                           cfg->answer_len);
    return recurrent_check(cfg);
}

/* "2 layers, hidden 32, input embed, head lm, embedding 16" (seq2seq: "2 bidirectional
 * layers, ..."). */
static void describe(const model_config *cfg, const char *layers, char *out, size_t cap)
{
    snprintf(out, cap, "%d %slayer%s, hidden %d, input %s, head %s", cfg->layers, layers,
             cfg->layers == 1 ? "" : "s", cfg->hidden, input_kind_name(cfg->input), head_kind_name(cfg->head));
    if (cfg->input == INPUT_EMBED)
        snprintf(out + strlen(out), cap - strlen(out), ", embedding %d", cfg->d_model);
}

static void lstm_describe(const model_config *cfg, char *out, size_t cap)
{
    describe(cfg, "", out, cap);
    if (cfg->head == HEAD_REGRESSION && cfg->readout != READOUT_HIDDEN)
        snprintf(out + strlen(out), cap - strlen(out), ", readout %s",
                 readout_kind_name(cfg->readout));
    if (cfg->forget_bias != 0.0f)
        snprintf(out + strlen(out), cap - strlen(out), ", forget bias %g",
                 (double)cfg->forget_bias);
}

static void seq2seq_describe(const model_config *cfg, char *out, size_t cap)
{
    describe(cfg, "bidirectional ", out, cap);
}

const model_family model_family_lstm = {
    .name = "lstm",
    .summary = "LSTM language model (seed 000); with --head regression, seed 004's counter",
    .token_by_token = true,
    .regression_head = true,
    .cell_readout = true,
    .forget_bias = true,
    .check = recurrent_check,
    .create = lstm_model_create,
    .describe = lstm_describe,
};

const model_family model_family_seq2seq = {
    .name = "seq2seq",
    .summary = "bidirectional LSTM encoder-decoder emitting fixed-width answers (seed 002)",
    .check = seq2seq_check,
    .create = seq2seq_create,
    .describe = seq2seq_describe,
};
