import { describe, expect, it } from 'vitest';
import { parseEnvelopeLine } from '../../processors/codec/envelope-json.ts';
import { EVENT_TYPES } from '../../processors/core/envelope.ts';
import { generateEvents, generateLines, generateRecords, MALFORMED_DEFECTS } from '../../processors/generate/generator.ts';
import { Rng, rngFor } from '../../processors/generate/prng.ts';

const collect = <T>(it: Iterable<T>) => [...it];
const text = (opts: Parameters<typeof generateLines>[0]) => collect(generateLines(opts)).join('\n');

describe('generator', () => {
  it('is reproducible: the same seed and options give byte-identical output', () => {
    const opts = { deals: 40, seed: 42, duplicates: 0.05, late: 0.05, shuffleWindow: 64, malformed: 0.05 };
    const a = text(opts);
    expect(a.length).toBeGreaterThan(10_000);
    expect(text(opts)).toBe(a);
  });

  it('gives different output for a different seed', () => {
    expect(text({ deals: 10, seed: 1 })).not.toBe(text({ deals: 10, seed: 2 }));
  });

  it('accepts text seeds', () => {
    expect(text({ deals: 5, seed: 'demo' })).toBe(text({ deals: 5, seed: 'demo' }));
  });

  it('emits only valid envelopes when no malformed fraction is asked for, covering every event type', () => {
    const seen = new Set<string>();
    for (const line of generateLines({ deals: 300, seed: 7, duplicates: 0.02, late: 0.02, shuffleWindow: 128 })) {
      const r = parseEnvelopeLine(line);
      if (!r.ok) throw new Error(`${r.reason}: ${line}`);
      seen.add(r.envelope.event_type);
    }
    expect([...seen].sort()).toEqual([...EVENT_TYPES].sort());
  });

  it('without defects, emits events in event-time order with unique ids', () => {
    const events = collect(generateEvents({ deals: 200, seed: 3 }));
    const ts = events.map((e) => Date.parse(e.event_ts));
    expect(ts.every((t, i) => i === 0 || t >= ts[i - 1])).toBe(true);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
  });

  it('keeps deal content independent of the arrival defects: same distinct events, other order', () => {
    const plain = collect(generateEvents({ deals: 60, seed: 9 }));
    const messy = collect(generateEvents({ deals: 60, seed: 9, duplicates: 0.1, late: 0.1, shuffleWindow: 50 }));
    const byId = (es: typeof plain) => new Map(es.map((e) => [e.event_id, JSON.stringify(e)]));
    expect(byId(messy)).toEqual(byId(plain));
    expect(messy.length).toBeGreaterThan(plain.length);
    expect(messy.map((e) => e.event_id)).not.toEqual(plain.map((e) => e.event_id));
  });

  it('delivers duplicates byte-identical to their original', () => {
    const records = collect(generateRecords({ deals: 100, seed: 11, duplicates: 0.1 }));
    const dups = records.filter((r) => r.kind === 'event' && r.duplicate);
    expect(dups.length).toBeGreaterThan(0);
    const originals = new Map(records.filter((r) => r.kind === 'event' && !r.duplicate).map((r) => r.kind === 'event' && [r.envelope.event_id, JSON.stringify(r.envelope)]) as [string, string][]);
    for (const d of dups) if (d.kind === 'event') expect(JSON.stringify(d.envelope)).toBe(originals.get(d.envelope.event_id));
  });

  it('makes late events arrive after events with a later event time', () => {
    const records = collect(generateRecords({ deals: 100, seed: 12, late: 0.1 }));
    let maxTs = 0;
    let lateAfterLater = 0;
    for (const r of records) {
      if (r.kind !== 'event') continue;
      const t = Date.parse(r.envelope.event_ts);
      if (r.late && t < maxTs - 3_600_000) lateAfterLater++;
      maxTs = Math.max(maxTs, t);
    }
    expect(lateAfterLater).toBeGreaterThan(0);
  });

  it('produces malformed lines that validateEnvelope rejects, of every defect kind', () => {
    const records = collect(generateRecords({ deals: 200, seed: 5, malformed: 0.1 }));
    const bad = records.filter((r) => r.kind === 'malformed');
    expect(bad.length).toBeGreaterThan(50);
    expect(new Set(bad.map((r) => r.kind === 'malformed' && r.defect))).toEqual(new Set(MALFORMED_DEFECTS));
    for (const r of bad) {
      if (r.kind !== 'malformed') continue;
      const result = parseEnvelopeLine(r.line);
      expect(result.ok, `${r.defect}: ${r.line}`).toBe(false);
    }
    const reasons = bad.map((r) => (r.kind === 'malformed' ? parseEnvelopeLine(r.line) : undefined)).map((x) => (x && !x.ok ? x.reason : ''));
    expect(reasons.some((x) => x.startsWith('malformed JSON'))).toBe(true);
    expect(reasons.some((x) => x.startsWith('event_type: unknown event type'))).toBe(true);
    expect(reasons.some((x) => /^(event_id|master_deal_id): missing required field$/.test(x))).toBe(true);
    expect(reasons.some((x) => x.startsWith('event_ts: unparsable timestamp'))).toBe(true);
    expect(reasons.some((x) => /^payload(\.\w+)?: missing required field$/.test(x))).toBe(true);
  });

  it('adds malformed lines without losing valid events', () => {
    const valid = collect(generateLines({ deals: 50, seed: 8 }));
    const withBad = collect(generateLines({ deals: 50, seed: 8, malformed: 0.2 }));
    expect(withBad.filter((l) => parseEnvelopeLine(l).ok)).toEqual(valid);
  });

  it('draws SLA-relevant delays so that a realistic share breaches', () => {
    const events = collect(generateEvents({ deals: 2000, seed: 21 }));
    const byDeal = new Map<string, Map<string, number>>();
    for (const e of events) {
      const m = byDeal.get(e.master_deal_id) ?? new Map<string, number>();
      if (!m.has(e.event_type)) m.set(e.event_type, Date.parse(e.event_ts));
      byDeal.set(e.master_deal_id, m);
    }
    const H = 3_600_000;
    const share = (from: string, to: string, targetMs: number) => {
      let n = 0;
      let late = 0;
      for (const m of byDeal.values()) {
        if (m.has(from) && m.has(to)) {
          n++;
          if ((m.get(to) as number) - (m.get(from) as number) > targetMs) late++;
        }
      }
      return late / n;
    };
    const leadToBrief = share('crm.deal.created', 'crm.brief.submitted', 8 * H);
    const contractToLaunch = share('docflow.contract.signed', 'mediapush.campaign.started', 48 * H);
    const launchToClose = share('mediapush.campaign.started', 'dcm.closeout.completed', 30 * 24 * H);
    for (const s of [leadToBrief, contractToLaunch, launchToClose]) {
      expect(s).toBeGreaterThan(0.05);
      expect(s).toBeLessThan(0.4);
    }
    const cancelled = [...byDeal.values()].filter((m) => m.has('crm.deal.cancelled')).length / byDeal.size;
    expect(cancelled).toBeGreaterThan(0.05);
    expect(cancelled).toBeLessThan(0.3);
  });

  it('rejects bad options naming the option', () => {
    expect(() => collect(generateLines({ deals: 0, seed: 1 }))).toThrow(/generate option deals/);
    expect(() => collect(generateLines({ deals: 1, seed: 1, late: 2 }))).toThrow(/generate option late/);
    expect(() => collect(generateLines({ deals: 1, seed: 1, start: 'soon' }))).toThrow(/generate option start: unparsable timestamp/);
  });
});

describe('prng', () => {
  it('is deterministic per (seed, stream, index) and streams are independent', () => {
    const a = rngFor(1, 'deal', 5);
    const b = rngFor(1, 'deal', 5);
    const c = rngFor(1, 'deal', 6);
    const xs = Array.from({ length: 5 }, () => a.uint32());
    expect(Array.from({ length: 5 }, () => b.uint32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.uint32())).not.toEqual(xs);
  });

  it('draws uniform numbers in [0, 1) with a sane mean', () => {
    const r = new Rng(123);
    const xs = Array.from({ length: 100_000 }, () => r.next());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(xs.reduce((s, x) => s + x, 0) / xs.length).toBeCloseTo(0.5, 2);
  });

  it('makes v4-shaped uuids', () => {
    expect(new Rng(1).uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
