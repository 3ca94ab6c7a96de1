import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compiled } from '../../processors/core/compiled-rules.ts';
import { apply, emptyDeal } from '../../processors/core/engine.ts';
import { DEFAULT_RULES_PATH, loadDefaultRules, parseRules } from '../../processors/core/rules/load.ts';
import { ev, HOUR, T0 } from './fixtures.ts';
import {
  closedId,
  closedIdHash,
  idHash,
  slaUpdatedId,
  slaUpdatedIdHash,
  stageChangedId,
  stageChangedIdHash,
} from '../../processors/core/published-ids.ts';

describe('published-ids', () => {
  it('keeps the id hash saved in changelog states (values of the first release)', () => {
    expect(idHash('MD-000001:stage:ec1fed98-06f1-4cca-b2a4-94c9c58c6525:draft>briefed')).toBe(2696451449752044);
    expect(idHash('MD-7:closed:e-9')).toBe(7957260538650345);
    expect(idHash('MD-7:sla:lead_to_brief:e-1:-')).toBe(6867815342503909);
    expect(idHash('')).toBe(35186538225093);
  });

  it('hashes an id from its parts exactly as from the whole id', () => {
    const part = fc.string({ unit: 'binary', maxLength: 40 });
    fc.assert(
      fc.property(part, part, part, part, fc.option(part), (deal, a, b, c, stop) => {
        expect(stageChangedIdHash(deal, a, b, c)).toBe(idHash(stageChangedId(deal, a, b, c)));
        expect(closedIdHash(deal, a)).toBe(idHash(closedId(deal, a)));
        expect(slaUpdatedIdHash(deal, a, b, stop)).toBe(idHash(slaUpdatedId(deal, a, b, stop)));
      }),
      { numRuns: 2000 },
    );
  });
});


describe('an SLA timer\'s open pair, once it stopped', () => {
  const defaults = loadDefaultRules();

  it('is remembered only where a rule can undo the stop (a reset of a stop fact or of a terminal)', () => {
    expect(Object.fromEntries(defaults.slas.map((s, i) => [s.name, compiled(defaults).slaReopens[i]]))).toEqual({
      lead_to_brief: false, brief_to_offer: false, offer_to_contract: true, contract_to_launch: false, launch_to_close: false,
    });
    const undoLaunch = parseRules(readFileSync(DEFAULT_RULES_PATH, 'utf8').replace(
      'compensations:\n',
      'compensations:\n  - { event_type: mediapush.campaign.kpi, resets: [campaign_started] }\n', // a made-up rule, for the test
    ));
    // campaign_started stops contract_to_launch (and only starts launch_to_close)
    expect(compiled(undoLaunch).slaReopens).toEqual([false, false, true, true, false]);
  });

  it('given an in-order deal through launch, then its state remembers just the pair a revoke could bring back', () => {
    const types = ['crm.deal.created', 'crm.brief.submitted', 'media.mediaplan.ready', 'crm.offer.approved', 'docflow.contract.signed', 'mediapush.campaign.started'];
    let state = emptyDeal('MD-1', defaults);
    types.forEach((t, i) => (state = apply(state, ev(`e${i}`, t, T0 + i * HOUR), defaults).state));
    expect(state.emitted).toEqual([slaUpdatedIdHash('MD-1', 'offer_to_contract', 'e3', null)]);
    // and a revoke brings it back without publishing it again
    const revoked = apply(state, ev('r', 'docflow.contract.revoked', T0 + 7 * HOUR), defaults);
    expect(revoked.outputs.map((o) => o.event_id)).not.toContain('MD-1:sla:offer_to_contract:e3:-');
    expect(revoked.state.derived.stage).not.toBe('contracting');
  });
});
