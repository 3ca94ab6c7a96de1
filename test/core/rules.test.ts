import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apply, emptyDeal, snapshot } from '../../processors/core/engine.ts';
import { DEFAULT_RULES_PATH, loadDefaultRules, loadRulesFile, parseRules, RulesError } from '../../processors/core/rules/load.ts';
import { ev, HOUR, T0 } from './fixtures.ts';

const defaultText = readFileSync(DEFAULT_RULES_PATH, 'utf8');

function errorOf(text: string, source = 'rules.yaml'): string {
  try {
    parseRules(text, source);
  } catch (err) {
    expect(err).toBeInstanceOf(RulesError);
    return (err as Error).message;
  }
  throw new Error('expected a RulesError');
}

describe('default rules file', () => {
  it('given processors/core/rules/default.yaml, then it compiles to the SPEC §3 stages and §4 timers', () => {
    const rules = loadDefaultRules();
    expect(rules.stages.map((s) => s.name)).toEqual(['cancelled', 'closed', 'closing', 'running', 'contracting', 'offer_ready', 'briefed', 'draft']);
    expect(rules.gates.map((g) => g.label)).toEqual(['G1', 'G2', 'G3', 'G4', 'G5', 'G6', 'G7']);
    expect(rules.slas.map((s) => [s.name, s.start, s.stop, s.targetMs])).toEqual([
      ['lead_to_brief', 'deal_created', 'has_brief', 8 * HOUR],
      ['brief_to_offer', 'has_brief', 'offer_ready', 48 * HOUR],
      ['offer_to_contract', 'offer_ready', 'contract_signed', 72 * HOUR],
      ['contract_to_launch', 'contract_signed', 'campaign_started', 48 * HOUR],
      ['launch_to_close', 'campaign_started', 'closeout_completed', 720 * HOUR],
    ]);
    expect(rules.initialStage).toBe('draft');
    expect(rules.effects.get('docflow.contract.revoked')).toEqual([{ fact: rules.facts.find((f) => f.name === 'contract_signed')!.index, set: false }]);
  });
});

describe('rules file validation', () => {
  it("given a stage predicate naming an unknown gate, then the error names the file, the entry and the gate", () => {
    const text = defaultText.replace('when: contract_signed }', 'when: has_brif }');
    expect(errorOf(text)).toBe("rules.yaml: stages[4].when: unknown gate 'has_brif'");
  });

  it('given several bad entries, then each is reported with its path', () => {
    const text = defaultText
      .replace('set_by: [crm.brief.submitted]', 'set_by: [crm.brief.submited]')
      .replace('target: 8h', 'target: eight hours')
      .replace('stop: has_brief,', 'stop: has_breif,');
    const message = errorOf(text, 'custom.yaml');
    expect(message).toContain("custom.yaml: gates.has_brief.set_by[0]: unknown event_type 'crm.brief.submited'");
    expect(message).toContain("custom.yaml: sla[0].target: bad duration 'eight hours'");
    expect(message).toContain("custom.yaml: sla[0].stop: unknown gate 'has_breif'");
  });

  it('given a structurally wrong file, then the zod issue path is reported', () => {
    expect(errorOf(defaultText.replace('version: 1', 'version: 2'))).toMatch(/^rules\.yaml: version: /);
    expect(errorOf(defaultText.replace('{ name: closing,', '{ nme: closing,'))).toMatch(/rules\.yaml: stages\[2\]/);
  });

  it('given a compensation resetting something that is not a gate, then it is rejected', () => {
    const text = defaultText.replace('resets: [contract_signed]', 'resets: [deal_created]');
    expect(errorOf(text)).toBe("rules.yaml: compensations[0].resets[0]: unknown gate 'deal_created'");
  });

  it('given a calendar with an unknown time zone or bad hours, then it is rejected', () => {
    expect(errorOf(defaultText.replace('zone: Europe/Moscow', 'zone: Mars/Olympus'))).toBe("rules.yaml: calendars.moscow_office.zone: unknown time zone 'Mars/Olympus'");
    expect(errorOf(defaultText.replace('mon: "09:00-18:00"', 'mon: "18:00-09:00"'))).toContain('calendars.moscow_office.hours');
  });

  it('given stages that do not cover every case, then it is rejected', () => {
    expect(errorOf(defaultText.replace('{ name: draft,       when: otherwise }', '{ name: draft, when: deal_created }'))).toContain('no stage matches');
  });

  it('given malformed YAML, then the parser error is reported', () => {
    expect(errorOf('version: 1\ngates: [oops')).toMatch(/^rules\.yaml: YAML: /);
  });

  it('given a missing file, then the error names it', () => {
    expect(() => loadRulesFile('/nonexistent/rules.yaml')).toThrow(/rules\.yaml: cannot read/);
  });
});

describe('stages are data: planning and launching added by editing the file only', () => {
  // The state diagram of document 6.7.1: planning = G1 && !G2, launching = G4 && !G5.
  const custom = defaultText
    .replace(
      '  - { name: contracting, when: contract_signed }',
      '  - { name: launching,   when: contract_signed and not campaign_started }\n  - { name: contracting, when: contract_signed }',
    )
    .replace(
      '  - { name: briefed,     when: has_brief }',
      '  - { name: planning,    when: has_brief and not mediaplan_ready }\n  - { name: briefed,     when: has_brief }',
    );

  it('given a custom rules file with planning and launching, when a deal goes through G1, G2+G3, G4, G5, then those stages appear', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rules-'));
    const file = join(dir, 'with-planning.yaml');
    writeFileSync(file, custom);
    const rules = loadRulesFile(file);
    let state = emptyDeal('MD-1', rules);
    const stages: string[] = [];
    const events = [
      ev('c', 'crm.deal.created', T0), ev('b', 'crm.brief.submitted', T0 + HOUR), ev('m', 'media.mediaplan.ready', T0 + 2 * HOUR),
      ev('o', 'crm.offer.approved', T0 + 3 * HOUR), ev('s', 'docflow.contract.signed', T0 + 4 * HOUR),
      ev('g', 'mediapush.campaign.started', T0 + 5 * HOUR),
    ];
    for (const e of events) {
      const step = apply(state, e, rules);
      state = step.state;
      for (const o of step.outputs) if (o.type === 'masterdeal.stage.changed') stages.push(o.to_stage);
    }
    expect(stages).toEqual(['planning', 'briefed', 'offer_ready', 'launching', 'running']);
    expect(snapshot(state, rules).stage).toBe('running');
  });
});

describe('rules fingerprint: what a deal state was derived under', () => {
  const base = parseRules(defaultText).fingerprint;

  it('given only comments, version-neutral settings or key order changed, then the fingerprint is the same', () => {
    const reworded = defaultText.replace(/^#.*$/gm, '# another comment').replace('allowed_lateness: 15m', 'allowed_lateness: 1h');
    expect(parseRules(reworded).fingerprint).toBe(base);
    const reordered = defaultText.replace(
      'has_brief:          { label: G1, set_by: [crm.brief.submitted] }',
      'has_brief:          { set_by: [crm.brief.submitted], label: G1 }',
    );
    expect(reordered).not.toBe(defaultText);
    expect(parseRules(reordered).fingerprint).toBe(base);
  });

  it('given an SLA target or a stage predicate changed, then the fingerprint differs', () => {
    expect(parseRules(defaultText.replace('stop: has_brief,          target: 8h', 'stop: has_brief,          target: 9h')).fingerprint).not.toBe(base);
    expect(parseRules(defaultText.replace('when: campaign_started and invoice_issued', 'when: invoice_issued and campaign_started')).fingerprint).not.toBe(base);
  });

  it('given a new deal, then its state is stamped with the fingerprint and keeps it through apply', () => {
    const rules = loadDefaultRules();
    const state = apply(emptyDeal('MD-1', rules), ev('a', 'crm.deal.created', T0), rules).state;
    expect(state.rules).toBe(rules.fingerprint);
    expect(rules.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });
});
