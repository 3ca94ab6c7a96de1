import { describe, expect, it } from 'vitest';
import { assignCoPartitioned, ownedPartitions } from '../../processors/kafka/copartition.ts';

const sixEach = { 'raw.crm': [0, 1, 2, 3, 4, 5], 'raw.dcm': [0, 1, 2, 3, 4, 5], 'raw.okk': [0, 1, 2, 3, 4, 5] };

describe('co-partitioning assignment', () => {
  it('given two members, each owns the same partition numbers of every topic', () => {
    const plan = assignCoPartitioned({ memberIds: ['b', 'a'], partitions: sixEach });
    expect(plan.a).toEqual({ 'raw.crm': [0, 2, 4], 'raw.dcm': [0, 2, 4], 'raw.okk': [0, 2, 4] });
    expect(plan.b).toEqual({ 'raw.crm': [1, 3, 5], 'raw.dcm': [1, 3, 5], 'raw.okk': [1, 3, 5] });
  });

  it('gives every partition of every topic to exactly one member, whatever the member count', () => {
    for (let n = 1; n <= 8; n++) {
      const ids = Array.from({ length: n }, (_, i) => `m-${i}`);
      const plan = assignCoPartitioned({ memberIds: ids, partitions: sixEach });
      for (const [topic, parts] of Object.entries(sixEach)) {
        const owners = parts.map((p) => ids.filter((m) => plan[m]![topic]?.includes(p)));
        expect(owners.every((o) => o.length === 1)).toBe(true);
      }
      for (const m of ids) {
        const nums = Object.values(plan[m]!);
        expect(nums.every((x) => JSON.stringify(x) === JSON.stringify(nums[0]))).toBe(true);
      }
    }
  });

  it('is the same plan whatever order the members are listed in', () => {
    const a = assignCoPartitioned({ memberIds: ['x', 'y', 'z'], partitions: sixEach });
    const b = assignCoPartitioned({ memberIds: ['z', 'x', 'y'], partitions: sixEach });
    expect(a).toEqual(b);
  });

  it('more members than partitions leaves the extra members idle', () => {
    const plan = assignCoPartitioned({ memberIds: ['a', 'b', 'c'], partitions: { t: [0, 1] } });
    expect(plan.c).toEqual({});
    expect(ownedPartitions(plan.a!)).toEqual([0]);
  });

  it('a topic with fewer partitions only assigns the numbers it has', () => {
    const plan = assignCoPartitioned({ memberIds: ['a', 'b'], partitions: { t6: [0, 1, 2, 3], t2: [0, 1] } });
    expect(plan.a).toEqual({ t6: [0, 2], t2: [0] });
    expect(plan.b).toEqual({ t6: [1, 3], t2: [1] });
  });
});

import { chunkBySize } from '../../processors/kafka/kafkajs.ts';

describe('request chunking', () => {
  const rec = (n: number) => ({ key: 'k', value: Buffer.alloc(n) });
  it('keeps each request under the size limit and the records in order', () => {
    const records = Array.from({ length: 10 }, (_, i) => ({ ...rec(300), key: String(i) }));
    const chunks = chunkBySize(records, 1000);
    expect(chunks.flat().map((r) => r.key)).toEqual(records.map((r) => r.key));
    expect(chunks.every((c) => c.length <= 2)).toBe(true);
  });
  it('a single record larger than the limit travels alone', () => {
    expect(chunkBySize([rec(10), rec(5000), rec(10)], 1000).map((c) => c.length)).toEqual([1, 1, 1]);
  });
});
