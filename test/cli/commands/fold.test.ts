import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../processors/shared/config.ts';
import { DAY, ev, HOUR, line, T0, workedExample } from '../../core/fixtures.ts';

/** Runs the real `masterdeal fold` CLI. */
function fold(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'scripts/masterdeal.mjs'), 'fold', ...args], { cwd: PROJECT_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

const dir = mkdtempSync(join(tmpdir(), 'fold-'));
function file(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}
const parse = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

// Each case spawns the CLI (tsx start-up ~1 s, more on a busy machine).
describe('masterdeal fold', { timeout: 60_000 }, () => {
  it('given bad lines among good ones, then each bad line is reported with its number and reason, the rest is folded, exit 1', async () => {
    const good = workedExample().map(line);
    const brief = JSON.parse(good[1]);
    const input = file('mixed.ndjson', [
      good[0],
      '{"event_id": "x1", "event_type": ', // 2: malformed JSON
      JSON.stringify({ ...brief, event_id: 'x2', event_type: 'crm.brief.teleported' }), // 3
      JSON.stringify({ ...brief, event_id: 'x3', master_deal_id: undefined }), // 4
      JSON.stringify({ ...brief, event_id: undefined }), // 5
      JSON.stringify({ ...brief, event_id: 'x5', event_ts: 'yesterday at noon' }), // 6
      JSON.stringify({ ...brief, event_id: 'x6', payload: {} }), // 7
      ...good.slice(1), // 8..14
    ]);
    const { code, stdout, stderr } = await fold(['--in', input]);
    expect(code).toBe(1);
    const reported = stderr.trim().split('\n');
    expect(reported).toHaveLength(6);
    expect(reported[0]).toMatch(/^line 2: malformed JSON/);
    expect(reported[1]).toMatch(/^line 3: event_type: .*crm\.brief\.teleported/);
    expect(reported[2]).toMatch(/^line 4: master_deal_id: missing/);
    expect(reported[3]).toMatch(/^line 5: event_id: missing/);
    expect(reported[4]).toMatch(/^line 6: event_ts: unparsable timestamp/);
    expect(reported[5]).toMatch(/^line 7: payload\.brief_id: missing required field/);
    const out = parse(stdout);
    expect(out.filter((o) => o.type === 'masterdeal.stage.changed').map((o) => o.to_stage)).toEqual([
      'briefed', 'offer_ready', 'contracting', 'running', 'closing', 'closed',
    ]);
    expect(out.at(-1)).toMatchObject({ type: 'masterdeal.snapshot', master_deal_id: 'MD-000123', stage: 'closed', event_count: 8 });
  });

  it('given valid input, then it exits 0 with events first, one snapshot per deal last, ISO timestamps and ms durations', async () => {
    const other = [ev('o-1', 'crm.deal.created', T0, 'MD-000001'), ev('o-2', 'crm.deal.cancelled', T0 + 10 * HOUR, 'MD-000001')];
    const input = file('valid.ndjson', [...workedExample().map(line), ...other.map(line)]);
    const outFile = join(dir, 'out.ndjson');
    const { code, stderr } = await fold(['--in', input, '--out', outFile]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const out = parse(readFileSync(outFile, 'utf8'));
    for (const o of out) expect(o).toHaveProperty('master_deal_id');
    const firstSnapshot = out.findIndex((o) => o.type === 'masterdeal.snapshot');
    expect(out.slice(firstSnapshot).map((o) => [o.type, o.master_deal_id])).toEqual([
      ['masterdeal.snapshot', 'MD-000001'], ['masterdeal.snapshot', 'MD-000123'],
    ]);
    expect(out.slice(0, firstSnapshot).every((o) => ['masterdeal.stage.changed', 'masterdeal.sla.breached'].includes(o.type))).toBe(true);
    const breach = out.find((o) => o.type === 'masterdeal.sla.breached');
    expect(breach).toEqual(expect.objectContaining({ master_deal_id: 'MD-000001', sla: 'lead_to_brief' }));
    expect(breach!.started_at).toMatch(ISO_MS);
    expect(breach!.deadline_at).toBe('2026-03-02T17:00:00.000Z');
    const snap = out.at(-1)!;
    expect(snap.gates.has_brief).toEqual({ value: true, event_ts: '2026-03-02T13:00:00.000Z', event_id: 'MD-000123-2' });
    expect(snap.sla.lead_to_brief).toMatchObject({
      started_at: '2026-03-02T09:00:00.000Z', stopped_at: '2026-03-02T13:00:00.000Z', duration_ms: 4 * HOUR, target_ms: 8 * HOUR, breached: false,
    });
  });

  it('given stdin input shuffled with duplicates, then the snapshots equal those of the ordered file; --now breaches open timers', async () => {
    const events = workedExample().slice(0, 5); // stops at contracting: contract_to_launch not started, offer_to_contract met
    const ordered = events.map(line);
    const shuffled = [ordered[4], ordered[2], ordered[0], ordered[4], ordered[3], ordered[1], ordered[2]];
    const a = await fold(['--in', '-'], ordered.join('\n'));
    const b = await fold(['--in', '-'], shuffled.join('\n'));
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const snapOf = (s: string) => {
      const { version: _v, ...rest } = parse(s).at(-1)!;
      return rest;
    };
    expect(snapOf(b.stdout)).toEqual(snapOf(a.stdout));
    const later = await fold(['--in', '-', '--now', new Date(T0 + 10 * DAY).toISOString()], ordered.join('\n'));
    const out = parse(later.stdout);
    expect(out.filter((o) => o.type === 'masterdeal.sla.breached').map((o) => o.sla)).toEqual(['contract_to_launch']);
    expect(out.at(-1)!.sla.contract_to_launch).toMatchObject({ breached: true, stopped_at: null, duration_ms: null });
  });

  it('given a bad rules file or a missing --in, then it exits 2 with the reason', async () => {
    const rules = join(dir, 'bad-rules.yaml');
    writeFileSync(rules, readFileSync(join(PROJECT_ROOT, 'processors/core/rules/default.yaml'), 'utf8').replace('when: has_brief }', 'when: has_brif }'));
    const bad = await fold(['--in', '-', '--rules', rules]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("bad-rules.yaml: stages[6].when: unknown gate 'has_brif'");
    const missing = await fold([]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--in <file>'");
  });
});
