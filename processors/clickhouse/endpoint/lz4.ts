/**
 * Decoder for the LZ4 frame format (Content-Encoding: lz4), which clickhouse-connect
 * uses for insert bodies when compression is on and the python lz4 package is present.
 * Node has no built-in LZ4; this covers the spec (lz4.org, frame format 1.6.x) minus
 * dictionaries. Checksums are skipped: TCP and the engine's own parsing catch corruption.
 */

const FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

export class Lz4Error extends Error {}

class Output {
  buf: Buffer;
  len = 0;
  constructor(size: number, readonly limit: number) {
    this.buf = Buffer.allocUnsafe(Math.max(64, Math.min(size, limit)));
  }
  reserve(extra: number): void {
    const need = this.len + extra;
    if (need > this.limit) throw new RangeError(`LZ4 output exceeds ${this.limit} bytes`);
    if (need <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.min(this.limit, Math.max(need, this.buf.length * 2)));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
}

/** Decodes one or more concatenated LZ4 frames; throws RangeError past `maxOutput` bytes. */
export function decodeLz4Frames(input: Buffer, maxOutput: number): Buffer {
  const out = new Output(input.length * 4, maxOutput);
  let i = 0;
  const need = (n: number) => {
    if (i + n > input.length) throw new Lz4Error('truncated LZ4 frame');
  };
  while (i < input.length) {
    need(4);
    const magic = input.readUInt32LE(i);
    i += 4;
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      need(4);
      i += 4 + input.readUInt32LE(i);
      continue;
    }
    if (magic !== FRAME_MAGIC) throw new Lz4Error(`not an LZ4 frame (magic 0x${magic.toString(16)})`);
    need(2);
    const flg = input[i];
    i += 2; // FLG, BD
    if (flg >> 6 !== 1) throw new Lz4Error(`unsupported LZ4 frame version ${flg >> 6}`);
    const blockChecksum = (flg & 0x10) !== 0;
    const contentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    if (flg & 0x01) throw new Lz4Error('LZ4 frames with a dictionary are not supported');
    if (contentSize) i += 8;
    i += 1; // header checksum
    for (;;) {
      need(4);
      const word = input.readUInt32LE(i);
      i += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      need(size);
      if (word & 0x80000000) {
        out.reserve(size);
        input.copy(out.buf, out.len, i, i + size);
        out.len += size;
      } else {
        decodeBlock(input, i, i + size, out);
      }
      i += size + (blockChecksum ? 4 : 0);
    }
    if (contentChecksum) i += 4;
  }
  return out.buf.subarray(0, out.len);
}

/** One LZ4 block; matches may reach back into earlier blocks of the frame (dependent blocks). */
function decodeBlock(src: Buffer, start: number, end: number, out: Output): void {
  let i = start;
  while (i < end) {
    const token = src[i++];
    let literals = token >> 4;
    if (literals === 15) {
      let b: number;
      do {
        b = src[i++];
        literals += b;
      } while (b === 255 && i < end);
    }
    if (i + literals > end) throw new Lz4Error('LZ4 literal run past the block end');
    out.reserve(literals);
    src.copy(out.buf, out.len, i, i + literals);
    out.len += literals;
    i += literals;
    if (i >= end) break; // the last sequence has literals only
    const offset = src[i] | (src[i + 1] << 8);
    i += 2;
    if (offset === 0 || offset > out.len) throw new Lz4Error('LZ4 match offset out of range');
    let length = token & 15;
    if (length === 15) {
      let b: number;
      do {
        b = src[i++];
        length += b;
      } while (b === 255 && i < end);
    }
    length += 4;
    out.reserve(length);
    const buf = out.buf;
    let from = out.len - offset;
    if (offset >= length) {
      buf.copy(buf, out.len, from, from + length);
      out.len += length;
    } else {
      // Overlapping match: repeats the last `offset` bytes, byte by byte.
      for (let k = 0; k < length; k++) buf[out.len++] = buf[from++];
    }
  }
}
