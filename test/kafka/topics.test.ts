import { describe, expect, it } from 'vitest';
import { canonicalKindOf, topicLayout, topicSpecs } from '../../processors/kafka/topics.ts';

describe('topic layout', () => {
  it('live: raw topics per domain, canonical, changelog and dead-letter under the prefix', () => {
    const l = topicLayout('masterdeal', 'masterdeal');
    expect(Object.values(l.raw)).toEqual([
      'masterdeal.raw.crm',
      'masterdeal.raw.mediapush',
      'masterdeal.raw.docflow',
      'masterdeal.raw.dcm',
      'masterdeal.raw.okk',
    ]);
    expect(l.canonical['sla.breached']).toBe('masterdeal.sla.breached');
    expect(l.changelog).toBe('masterdeal.processor.changelog');
    expect(l.deadLetter).toBe('masterdeal.dead-letter');
  });

  it('a replay namespace reads the same raw topics and writes its own outputs', () => {
    const l = topicLayout('masterdeal.replay-42', 'masterdeal');
    expect(l.raw.crm).toBe('masterdeal.raw.crm');
    expect(l.canonical.snapshot).toBe('masterdeal.replay-42.snapshot');
    expect(l.changelog).toBe('masterdeal.replay-42.processor.changelog');
  });

  it('every topic has the same partition count; snapshot and changelog are compacted', () => {
    const specs = topicSpecs(topicLayout('m', 'm'), 6);
    expect(new Set(specs.map((s) => s.numPartitions))).toEqual(new Set([6]));
    const compacted = specs.filter((s) => s.configEntries.some((c) => c.name === 'cleanup.policy' && c.value === 'compact')).map((s) => s.topic);
    expect(compacted.sort()).toEqual(['m.processor.changelog', 'm.snapshot']);
  });

  it('maps canonical output types to their topic kind', () => {
    expect(canonicalKindOf('masterdeal.stage.changed')).toBe('stage.changed');
    expect(canonicalKindOf('masterdeal.nope')).toBeUndefined();
  });
});
