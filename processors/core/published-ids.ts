import type { CanonicalEvent } from './canonical.ts';
import { transitionKey } from './derivation.ts';
import type { DealState } from './engine.ts';

/**
 * At most once per output id: a deal remembers 53-bit hashes of the stage.changed / closed /
 * sla.updated ids it published, so a re-derivation after a late event does not publish them again.
 */

/**
 * The state's emitted-id hashes. A state written before the field existed gets those of its
 * current timeline (its stage.changed / closed outputs were published when it was derived).
 */
export function emittedOf(state: DealState): number[] {
  if (state.emitted !== undefined) return state.emitted;
  const hashes: number[] = [];
  const deal = state.master_deal_id;
  for (const t of state.derived.timeline) {
    const key = transitionKey(t);
    hashes.push(idHash(`${deal}:stage:${key}`), idHash(`${deal}:closed:${t.cause_event_id}`));
  }
  return hashes;
}

/**
 * Drops from out[from..] the outputs whose id is in `emitted` (or repeated within the step) and
 * records the others. `inPlace`: `emitted` and `out` are updated in place and `emitted` is
 * returned; otherwise `emitted` is left as it is and a copy is returned (`out` is always the
 * step's own array).
 */
export function suppressEmitted(emitted: number[], out: CanonicalEvent[], from: number, inPlace: boolean): number[] {
  let list = emitted;
  let copied = inPlace;
  let w = from;
  for (let r = from; r < out.length; r++) {
    const o = out[r];
    const h = idHash(o.event_id);
    if (list.includes(h)) continue;
    if (!copied) {
      list = list.slice();
      copied = true;
    }
    list.push(h);
    out[w++] = o;
  }
  out.length = w;
  return list;
}

/**
 * A 53-bit hash of an output id (two 32-bit FNV-1a variants): 8 bytes a published output, and a
 * collision (which would drop a real output) is ~1e-13 likely for a deal's ~20 outputs.
 */
function idHash(id: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ id.length;
  for (let i = 0; i < id.length; i++) {
    const ch = id.charCodeAt(i);
    a = Math.imul(a ^ ch, 0x01000193);
    b = Math.imul(b ^ ch, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return (a >>> 0) + (b >>> 11) * 0x100000000;
}
