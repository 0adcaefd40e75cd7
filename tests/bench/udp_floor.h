/* udp_floor — the least work any implementation must do to move the volume
 * benchmark's bytes over UDP loopback (bench_volume's "UDP floor" table).
 *
 * Five processes stand for the five member nodes, each with its own file
 * (floor-diskN.img, next to the benchmark's disks).  Data goes between them
 * as streams of datagrams of UDP_FLOOR_DATAGRAM bytes with no header, sent
 * with sendmmsg from where the data is and received with recvmmsg straight
 * into the buffer it is used from; a receiver acknowledges every 16
 * datagrams so that no datagram is dropped.  There is no request, no
 * reply, no reassembly, no checksum and no recovery: a lost datagram stops
 * the benchmark with a message.  The layout is the benchmark's RAID-5 (four
 * members, md's left-symmetric algorithm).
 *
 *   write    this process computes each row's parity and streams each
 *            member its chunks (from the source mapping and the parity
 *            buffer); each member pwrites what it receives.
 *   read     each member preads its data chunks (not the parity) and
 *            streams them to this process, which receives them and throws
 *            them away, as the volume read does.
 *   rebuild  members 2-4 each stream their whole file to the fifth process,
 *            which XORs the three streams and pwrites the result: member
 *            1 rebuilt where the spare lives, without a coordinator in
 *            between.
 *
 * Public API of nothing: plain sockets and files. */
#ifndef RSHARE_BENCH_UDP_FLOOR_H
#define RSHARE_BENCH_UDP_FLOOR_H

#include <stdbool.h>
#include <stdint.h>

#define UDP_FLOOR_DATAGRAM 65504u /* the largest multiple of 16 a UDP datagram can carry */

struct udp_floor;

/* Fork the five processes; `dir` holds their files, members of
 * `member_bytes` bytes (a multiple of `chunk_bytes`).  Dies on an error. */
struct udp_floor *udp_floor_start(const char *dir, uint64_t member_bytes, uint32_t chunk_bytes);
/* Each returns MB/s (of volume bytes for write and read, of member bytes
 * for rebuild) and the CPU seconds of this process (cpu[0]) and of the five
 * processes together (cpu[1]).  `src` is the volume's data, 3 members long. */
double udp_floor_write(struct udp_floor *f, const uint8_t *src, double cpu[2]);
double udp_floor_read(struct udp_floor *f, double cpu[2]);
double udp_floor_rebuild(struct udp_floor *f, double cpu[2]);
/* Does the rebuilt file hold exactly member 1's bytes? */
bool udp_floor_rebuilt_ok(struct udp_floor *f);
void udp_floor_stop(struct udp_floor *f);

#endif
