/* rshare core — event-loop integration (internal part). */
#ifndef RSHARE_EVENT_H
#define RSHARE_EVENT_H

#include "core.h"

/* Add transport `index`'s descriptor to the node's descriptor set. */
int rs_event_watch(rshare_node *node, int index);

#endif
