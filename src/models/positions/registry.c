/* The positional schemes, one line each: --pos's choices in this order (a kind is an index
 * here, and 0, none, is what a zeroed config names). Adding a scheme is its file in this
 * folder and a line here. */
#include "models/positions/positions.h"

#define POS_SCHEMES(X)                                                                         \
    X(pos_none)                                                                                \
    X(pos_sinusoidal)                                                                          \
    X(pos_learned)                                                                             \
    X(pos_rope)                                                                                \
    X(pos_alibi)                                                                               \
    X(pos_fire)                                                                                \
    X(pos_abacus)                                                                              \
    X(pos_coupling)                                                                            \
    X(pos_coupling_rel)                                                                        \
    X(pos_coupling_local)                                                                      \
    X(pos_coupling_anchor)

#define DECLARE(entry) extern const pos_scheme entry;
#define ADDRESS(entry) &entry,
POS_SCHEMES(DECLARE)
static const pos_scheme *const schemes[] = {POS_SCHEMES(ADDRESS)};

const pos_scheme *pos_scheme_at(pos_kind k)
{
    return k >= 0 && k < (pos_kind)(sizeof schemes / sizeof *schemes) ? schemes[k] : NULL;
}
