import fc from 'fast-check';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { crc32C, encodeRecord, recordBatchEncoder, type RecordInput } from '../../processors/kafka/record-encoding.ts';
import { bytesOrString, recordHeaders } from './arbitraries.ts';

// kafkajs' own encoders, loaded here without installing ours (this file does not import kafkajs.ts).
const require = createRequire(import.meta.url);
const kafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: RecordInput) => { buffer: Buffer };
const { RecordBatch: kafkajsRecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js');
const kafkajsCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
const Long = require('kafkajs/src/utils/long.js');

const record = fc.record(
  {
    offsetDelta: fc.nat(100_000),
    timestampDelta: fc.oneof(fc.nat(2 ** 40), fc.constant(0)),
    key: fc.option(bytesOrString),
    value: fc.option(bytesOrString),
    headers: recordHeaders,
  },
  { requiredKeys: ['offsetDelta', 'timestampDelta'] },
) as fc.Arbitrary<RecordInput>;

describe('kafkajs record encoding, leaner', () => {
  it('given any record, when encoded, then the bytes equal kafkajs Record v0', () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(encodeRecord(r).buffer.equals(kafkajsRecord(r).buffer)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('given records of a (transactional or not) batch, when encoded, then the batch equals kafkajs RecordBatch v0', async () => {
    const ours = recordBatchEncoder(kafkajsRecordBatch);
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 40 }), fc.boolean(), fc.nat(1_000), async (records, transactional, sequence) => {
        const args = {
          firstTimestamp: 1_780_000_000_000,
          maxTimestamp: 1_780_000_000_999,
          transactional,
          producerId: Long.fromValue(4711),
          producerEpoch: 3,
          firstSequence: sequence,
          lastOffsetDelta: records.length - 1,
        };
        const expected = await kafkajsRecordBatch({ ...args, records: records.map((r) => kafkajsRecord(r)) });
        const actual = await ours({ ...args, records: records.map((r) => encodeRecord(r)) });
        expect(actual.size()).toBe(expected.size());
        expect(actual.buffer.equals(expected.buffer)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('given a compressed batch, then kafkajs encodes it (ours only handles uncompressed batches)', async () => {
    let called = 0;
    const ours = recordBatchEncoder(async (a) => {
      called++;
      return kafkajsRecordBatch(a);
    });
    await ours({ compression: 1, records: [encodeRecord({ key: 'k', value: 'v' })] });
    expect(called).toBe(1);
  });

  it('CRC32C equals kafkajs JavaScript CRC on any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5_000 }), (a) => {
        const b = Buffer.from(a);
        expect(crc32C(b)).toBe(kafkajsCrc32C(b));
      }),
    );
  });
});
