import { describe, expect, it } from 'vitest';
import { keyAccepted, presentedKey } from '../../processors/api/auth.ts';
import { apiConfig } from '../../processors/api/config.ts';
import { budgetSegment, findBottleneck } from '../../processors/api/model.ts';

describe('findBottleneck', () => {
  const sla = (name: string, started: number, breached: number, p90: number | null, target: number) => ({
    sla: name, started, breached, breach_rate: started ? breached / started : 0, p90_ms: p90, target_ms: target,
  });
  it('given no started timer, there is no bottleneck', () => {
    expect(findBottleneck([sla('lead_to_brief', 0, 0, null, 1)], new Map())).toBeNull();
  });
  it('picks the stage whose outgoing SLA breaches most, with the deals waiting there', () => {
    const b = findBottleneck(
      [sla('lead_to_brief', 100, 10, 5, 8), sla('offer_to_contract', 50, 20, 100, 72), sla('contract_to_launch', 40, 4, 10, 48)],
      new Map([['offer_ready', 7]]),
    );
    expect(b).toMatchObject({ stage: 'offer_ready', sla: 'offer_to_contract', breach_rate: 0.4, waiting: 7 });
    expect(b!.text).toContain('40%');
  });
  it('breaks a tie in breach rate by p90 relative to target', () => {
    const b = findBottleneck([sla('lead_to_brief', 10, 5, 8, 8), sla('brief_to_offer', 10, 5, 96, 48)], new Map());
    expect(b!.stage).toBe('briefed');
  });
});

describe('budgetSegment', () => {
  it.each([[0, 'small'], [4_999_999.99, 'small'], [5_000_000, 'medium'], [19_999_999, 'medium'], [20_000_000, 'large'], [null, 'unknown']] as const)(
    '%s RUB -> %s',
    (rub, seg) => expect(budgetSegment(rub)).toBe(seg),
  );
});

describe('API keys', () => {
  it('reads X-API-Key first, then Authorization: Bearer', () => {
    expect(presentedKey({ 'x-api-key': 'a', authorization: 'Bearer b' })).toBe('a');
    expect(presentedKey({ authorization: 'bearer  b ' })).toBe('b');
    expect(presentedKey({ authorization: 'Basic xyz' })).toBeUndefined();
  });
  it('accepts only a configured key', () => {
    expect(keyAccepted('k1-secret-1', ['k0-secret-0', 'k1-secret-1'])).toBe(true);
    expect(keyAccepted('k1-secret', ['k1-secret-1'])).toBe(false);
    expect(keyAccepted(undefined, ['k1-secret-1'])).toBe(false);
  });
  it('takes keys from MASTERDEAL_API_KEYS and rejects weak ones with the failing setting named', () => {
    expect(apiConfig({ MASTERDEAL_API_KEYS: ' alpha-key-1 , beta-key-22 ,' }).apiKeys).toEqual(['alpha-key-1', 'beta-key-22']);
    expect(() => apiConfig({ MASTERDEAL_API_KEYS: 'short' })).toThrow(/apiKeys\.0: an API key must have at least 8 characters/);
    expect(() => apiConfig({ MASTERDEAL_API_READ_AUTH: 'sometimes' })).toThrow(/readAuth/);
    expect(apiConfig({}).port).toBe(8080);
  });
});
