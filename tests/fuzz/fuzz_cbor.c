/* Fuzz target: the CBOR pull reader over arbitrary input, item by item
 * until the end or the first error; every string it returns must lie inside
 * the input. */
#include <stdint.h>
#include <stdlib.h>

#include "msg/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rs_cbor_reader r;
    rs_cbor_reader_init(&r, data, size);
    struct rs_cbor_item item;
    while (!rs_cbor_at_end(&r) && rs_cbor_next(&r, &item) == 0) {
        if (item.kind == RS_CBOR_BYTES || item.kind == RS_CBOR_TEXT) {
            if (item.len > size || item.ptr < data || item.ptr + item.len > data + size)
                abort();
        }
        if (r.pos > size)
            abort();
    }
    return 0;
}
