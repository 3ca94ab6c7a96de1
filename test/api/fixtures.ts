import type { ClickHouseClient } from '@clickhouse/client';
import { loadFoldOutput } from '../../processors/clickhouse/load.ts';
import { migrate } from '../../processors/clickhouse/migrate.ts';
import { foldLines } from '../../processors/cli/commands/fold.ts';
import { CANONICAL_TYPES } from '../../processors/core/canonical.ts';
import { loadDefaultRules } from '../../processors/core/rules/load.ts';
import type { EnvelopeJson } from '../../processors/codec/envelope-json.ts';
import { Rng } from '../../processors/generate/prng.ts';

/**
 * Test input for the API: envelopes of synthetic deals (seeded, so reproducible) that go through
 * the real engine (`foldLines`, as `masterdeal fold`) and the warehouse loader into ClickHouse.
 * The API is then checked against what the engine derived, never against hand-written results.
 */
export type { EnvelopeJson };

function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

export const INDUSTRIES = ['FMCG', 'retail', 'auto', 'finance', 'telecom', 'pharma'] as const;
const H = 3_600_000;

export interface DealSpec {
  id: string;
  industry?: string;
  clientType?: 'direct' | 'agency';
  budgetRub?: number;
  createdAt: number;
  /** How far the deal gets: 0 draft … 7 closed. */
  depth: number;
  cancel?: boolean;
  revoke?: boolean;
  /** Multiplies every step's delay (> 1: slow deal that breaches SLAs). */
  slowness?: number;
}

/** The envelopes of one deal, progressing through the gates up to `depth`. */
export function dealEnvelopes(spec: DealSpec, rand: () => number = rng(spec.id.length * 7919)): EnvelopeJson[] {
  const out: EnvelopeJson[] = [];
  let t = spec.createdAt;
  let n = 0;
  const slow = spec.slowness ?? 1;
  const ev = (type: string, source: string, payload: Record<string, unknown>, delayH: number) => {
    t += Math.round(delayH * slow * H * (0.5 + rand()));
    out.push({ event_id: `${spec.id}-e${++n}`, event_type: type, source_system: source, master_deal_id: spec.id, event_ts: new Date(t).toISOString(), payload });
  };
  ev('crm.deal.created', 'CRM', {
    client_id: `C-${spec.id}`,
    client_name: `Client ${spec.id}`,
    industry: spec.industry ?? INDUSTRIES[Math.floor(rand() * INDUSTRIES.length)],
    client_type: spec.clientType ?? (rand() < 0.5 ? 'direct' : 'agency'),
    budget_rub: spec.budgetRub ?? Math.round(200_000 + rand() * 30_000_000),
  }, 0);
  ev('crm.lead.qualified', 'CRM', { icp_score: Math.floor(rand() * 100), bant_budget: true, bant_authority: rand() < 0.7, bant_need: true, bant_timing: rand() < 0.6 }, 1);
  if (spec.depth >= 1) ev('crm.brief.submitted', 'CRM', { brief_id: `B-${spec.id}` }, 5);
  if (spec.depth >= 2) {
    ev('media.mediaplan.ready', 'MediaPush', { mediaplan_id: `MP-${spec.id}`, planned_budget_rub: 1_000_000 }, 14);
    ev('crm.offer.approved', 'CRM', { offer_id: `O-${spec.id}`, amount_rub: 900_000 }, 10);
  }
  if (spec.depth >= 3) ev('docflow.contract.signed', 'Docflow', { contract_id: `K-${spec.id}` }, 40);
  if (spec.revoke) ev('docflow.contract.revoked', 'Docflow', { contract_id: `K-${spec.id}`, reason: 'legal review' }, 6);
  if (spec.depth >= 4) ev('mediapush.campaign.started', 'MediaPush', { campaign_id: `CP-${spec.id}` }, 30);
  if (spec.depth >= 5) ev('dcm.invoice.issued', 'DCM', { invoice_id: `I-${spec.id}`, amount_rub: 900_000 }, 100);
  if (spec.depth >= 6) ev('dcm.closeout.completed', 'DCM', {}, 300);
  if (spec.depth >= 6) ev('okk.nps.submitted', 'OKK', { survey_id: `S-${spec.id}`, score: Math.floor(rand() * 11), comment: null }, 24);
  if (spec.cancel) ev('crm.deal.cancelled', 'CRM', { reason: 'client withdrew' }, 20);
  return out;
}

/** `count` deals from `start`, one every `spacingMs`, with varied depth, speed and outcome. */
export function syntheticDeals(count: number, seed = 42, start = Date.parse('2026-03-02T09:00:00.000Z'), spacingMs = 2 * H, prefix = 'MD'): EnvelopeJson[] {
  const rand = rng(seed);
  const out: EnvelopeJson[] = [];
  for (let i = 0; i < count; i++) {
    const depth = Math.floor(rand() * 7);
    out.push(
      ...dealEnvelopes(
        {
          id: `${prefix}-${String(i + 1).padStart(6, '0')}`,
          createdAt: start + i * spacingMs,
          depth,
          cancel: depth < 6 && rand() < 0.12,
          revoke: depth === 3 && rand() < 0.3,
          slowness: rand() < 0.3 ? 3 : 1,
        },
        rand,
      ),
    );
  }
  return out;
}

/** Every canonical type, so canonical_events is complete. */
const EMIT = new Set(CANONICAL_TYPES.filter((t) => t !== 'masterdeal.snapshot'));

/** Folds envelopes with the real engine; returns the NDJSON output lines (canonical events, then snapshots). */
export async function fold(envelopes: EnvelopeJson[], nowMs?: number): Promise<string[]> {
  const out: string[] = [];
  const bad: string[] = [];
  await foldLines(
    envelopes.map((e) => JSON.stringify(e)),
    { rules: loadDefaultRules(), emit: EMIT, nowMs },
    (line) => void out.push(line),
    (lineNo, reason) => void bad.push(`${lineNo}: ${reason}`),
  );
  if (bad.length > 0) throw new Error(`fixture envelopes rejected by fold: ${bad.join('; ')}`);
  return out;
}

/** Migrates `database` and loads envelopes plus their fold output (what the live sink would write). */
export async function loadDeals(client: ClickHouseClient, database: string, envelopes: EnvelopeJson[], nowMs?: number): Promise<void> {
  await migrate(client, { database });
  const output = await fold(envelopes, nowMs);
  const result = await loadFoldOutput(client, envelopes.map((e) => JSON.stringify(e)), output, { database });
  if (result.rejected.length > 0) throw new Error(`loader rejected fixture lines: ${JSON.stringify(result.rejected.slice(0, 3))}`);
}
