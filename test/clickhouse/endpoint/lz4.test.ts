import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeLz4Frames, Lz4Error } from '../../../processors/clickhouse/endpoint/lz4.ts';

// Two concatenated frames written by python's lz4.frame (as clickhouse-connect sends them):
// the first with content size, block and content checksums, matches and an overlapping run;
// the second a plain frame. Decoded: 1581 + 330 bytes.
const FRAMES = Buffer.from(
  '04224d187c402d060000000000009637010000ff117b226465616c5f6964223a22642d31222c227374616765223a22776f6e227d0a2000ffffffffd1fff400'
  + '0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f'
  + '404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f'
  + '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf'
  + 'c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff'
  + '616161030012506161616161699575260000000032a1954d04224d1860408216000000bf7461696c2d6672616d65200b00ff285072616d652000000000',
  'hex',
);

describe('decodeLz4Frames', () => {
  it('decodes concatenated frames byte for byte', () => {
    const out = decodeLz4Frames(FRAMES, 1 << 20);
    expect(out.length).toBe(1911);
    expect(createHash('sha256').update(out).digest('hex')).toBe('38a7fedc8a5ca6f58fb3efb44d87baff45349029d5720c319bf0d5a11435248a');
    expect(out.subarray(0, 31).toString()).toBe('{"deal_id":"d-1","stage":"won"}');
    expect(out.subarray(-11).toString()).toBe('tail-frame ');
  });

  it('stops with a RangeError past the output limit (a decompression bomb is a 413, not an OOM)', () => {
    expect(() => decodeLz4Frames(FRAMES, 1000)).toThrow(RangeError);
  });

  it('rejects data that is not an LZ4 frame, or is cut short', () => {
    expect(() => decodeLz4Frames(Buffer.from('{"a":1}\n'), 1 << 20)).toThrow(Lz4Error);
    expect(() => decodeLz4Frames(FRAMES.subarray(0, 40), 1 << 20)).toThrow(Lz4Error);
  });
});
