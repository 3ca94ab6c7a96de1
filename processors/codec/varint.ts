/**
 * Zig-zag LEB128, the variable-length integer of both Avro (int, long) and Kafka's record format
 * (varint, varlong): written by the changelog encoder and the Kafka record encoder. Numbers are
 * doubles here, exact for safe integers; callers that need a tighter bound check it themselves.
 */

/** Bytes `writeZigZag` writes for `v`. */
export function sizeOfZigZag(v: number): number {
  let zz = v >= 0 ? v * 2 : -v * 2 - 1;
  let n = 1;
  while (zz >= 128) {
    zz = Math.floor(zz / 128);
    n++;
  }
  return n;
}

/** Writes `v` at `at` (room for 10 bytes is the caller's); returns the position after it. */
export function writeZigZag(buf: Uint8Array, at: number, v: number): number {
  // Small integers (most lengths, counts, deltas): 32-bit arithmetic.
  if ((v | 0) === v && v >= -0x40000000 && v < 0x40000000) {
    let zz = (v << 1) ^ (v >> 31);
    while (zz > 0x7f) {
      buf[at++] = (zz & 0x7f) | 0x80;
      zz >>>= 7;
    }
    buf[at++] = zz;
    return at;
  }
  let zz = v >= 0 ? v * 2 : -v * 2 - 1;
  while (zz >= 128) {
    buf[at++] = (zz % 128) | 128;
    zz = Math.floor(zz / 128);
  }
  buf[at++] = zz;
  return at;
}
