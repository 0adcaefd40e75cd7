/* rshare — share disks, keyboards, mice and displays across the nodes of a
 * chassis or rack over an out-of-band management channel.
 * This header includes every public header. */
#ifndef RSHARE_H
#define RSHARE_H

#include <rshare/common.h>
#include <rshare/version.h>
#include <rshare/error.h>
#include <rshare/transport.h>
#include <rshare/node.h>
#include <rshare/identity.h>
#include <rshare/message.h>
#include <rshare/udp.h>
#include <rshare/loop.h>
#include <rshare/resource.h>
#include <rshare/cluster.h>
#include <rshare/global.h>
#include <rshare/block.h>
#include <rshare/volume.h>
#include <rshare/access.h>
#include <rshare/iscsi.h>
#include <rshare/mctp.h>
#include <rshare/serial.h>
#include <rshare/smbus.h>
#include <rshare/kvm.h>

#endif
