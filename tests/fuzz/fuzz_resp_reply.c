/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_resp_reply.c — libFuzzer target: the RESP reply parser (what servers send), in pieces, with shifts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

/*
 * Replies as a backend connection reads them: the first byte picks the
 * read size; what the parser has passed may be dropped (resp_reply_shift),
 * as the reader does when one long reply fills its buffer.  A complete
 * reply must measure the same with resp_value_len.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resp_reply rp;
    size_t step, start = 0, have, dropped = 0;

    if (size < 1)
        return 0;
    step = (size_t)(data[0] % 16) + 1;
    data++;
    size--;
    resp_reply_reset(&rp);
    have = step < size ? step : size;
    while (start < size) {
        int st = resp_parse_reply(&rp, (const char *)data + start + dropped, have - start - dropped);
        if (st == RESP_AGAIN) {
            if (have == size)
                break;
            if (data[0] & 1 && rp.pos > 0 && dropped < rp.pos) {   /* drop what was passed */
                uint64_t k = rp.pos;
                resp_reply_shift(&rp, k);
                dropped += k;
            }
            have = have + step < size ? have + step : size;
            continue;
        }
        if (st == RESP_ERROR) {
            if (rp.error == NULL)
                abort();
            break;
        }
        if (rp.pos == 0 || start + dropped + rp.pos > have)
            abort();
        if (dropped == 0 && resp_value_len((const char *)data + start, rp.pos) != (long)rp.pos)
            abort();   /* two parsers of one grammar disagree */
        start += dropped + rp.pos;
        dropped = 0;
        resp_reply_reset(&rp);
    }
    return 0;
}
