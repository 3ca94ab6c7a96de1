import type { CanonicalEvent, Snapshot } from './canonical.ts';
import { advanceWatermark, advanceWatermarkInPlace, applyInPlace, emptyDeal, restoredState, snapshot, type DealEvent, type DealState, type SavedDealState } from './engine.ts';
import { DeadlineHeap } from './deadline-heap.ts';
import { EventTimeWatermark } from './watermark.ts';
import type { Rules } from './rules/load.ts';

/**
 * Many deals and one event-time watermark (SPEC §4): watermark = highest event_ts seen minus
 * the allowed lateness. Open SLA deadlines sit in a min-heap so advancing the watermark touches
 * only the deals whose deadline it passes. Used by `masterdeal fold`, the live processor (which
 * also calls `advanceTo` from the wall clock when idle, and `restore` from its changelog) and replay.
 */
export interface BookStep {
  outputs: CanonicalEvent[];
  /** Deals whose state changed (to persist to a changelog, or to publish a new snapshot). */
  changed: string[];
}

export interface DealBookOptions {
  /** Overrides the rules' allowed_lateness. */
  allowedLatenessMs?: number;
}

export class DealBook {
  /** Each deal's number: its place in `held` (numbers are reused when a deal is evicted). */
  private index = new Map<string, number>();
  private held: DealState[] = [];
  readonly allowedLatenessMs: number;
  private readonly clock: EventTimeWatermark;
  private timers = new DeadlineHeap();

  constructor(
    readonly rules: Rules,
    options: DealBookOptions = {},
  ) {
    this.allowedLatenessMs = options.allowedLatenessMs ?? rules.allowedLatenessMs;
    this.clock = new EventTimeWatermark(this.allowedLatenessMs);
  }

  /** The current event-time watermark (null before the first event). */
  get watermark(): number | null {
    return this.clock.value;
  }

  get highestEventTs(): number | null {
    return this.clock.highestEventTs;
  }

  apply(env: DealEvent): BookStep {
    const moved = this.clock.observe(env.event_ts);

    const outputs: CanonicalEvent[] = [];
    const changed: string[] = [];
    // The book owns its states and updates them in place (applyInPlace: the pure `apply`'s result
    // without a new state per event, which with many interleaved deals is mostly GC work).
    let state = this.get(env.master_deal_id);
    const isNew = state === undefined;
    if (state === undefined) state = emptyDeal(env.master_deal_id, this.rules);
    const deadlineBefore = state.next_deadline;
    if (applyInPlace(state, env, this.rules, this.watermark, outputs)) {
      if (isNew) this.hold(state);
      this.schedule(state, deadlineBefore);
      changed.push(env.master_deal_id);
    }
    if (moved) this.fireTimers(outputs, changed);
    return { outputs, changed };
  }

  /**
   * Moves the watermark to `watermarkMs` if that is later (live idle ticks from the wall clock;
   * the end of a fold). Never moves it back.
   */
  advanceTo(watermarkMs: number): BookStep {
    const outputs: CanonicalEvent[] = [];
    const changed: string[] = [];
    if (this.clock.advanceTo(watermarkMs)) this.fireTimers(outputs, changed);
    return { outputs, changed };
  }

  /**
   * Puts back a deal state read from a changelog, whole or as `savedState` wrote it (keeps the
   * book's watermark). The book keeps its own copy, since it updates its states in place. A state
   * built with other rules is refused (RulesMismatchError): its gates, stage and timers would
   * silently mix two rule sets.
   */
  restore(state: DealState | SavedDealState): void {
    if (state.rules !== undefined && state.rules !== this.rules.fingerprint) {
      throw new RulesMismatchError(state.master_deal_id, state.rules, this.rules);
    }
    const before = this.get(state.master_deal_id);
    const own = restoredState(state, this.rules);
    this.hold(own);
    this.schedule(own, before?.next_deadline);
  }

  /**
   * Takes over the deals a batch fold built (foldBatch): `index` gives each id its number, its
   * state's place in `states`; `timers` holds the deadline of every state with an open timer
   * (`next_deadline`), queued while the batch had the deal at hand. The book must hold no deal
   * yet. (The batch numbered and scheduled the deals anyway; handing both over spares a second
   * map of every deal and a second pass over every state.)
   */
  adopt(index: Map<string, number>, states: DealState[], timers: DeadlineHeap): void {
    if (this.held.length > 0) throw new Error('adopt needs an empty DealBook');
    if (index.size !== states.length) throw new Error(`adopt: ${index.size} ids for ${states.length} states`);
    this.index = index;
    this.held = states;
    this.timers = timers;
  }

  /**
   * Forgets a deal (the live processor's memory bound for closed or cancelled deals, see
   * `isSettled`). A later event of that deal starts it afresh, so evict only what no longer
   * receives events, or accept that. Returns whether the deal was held.
   */
  evict(masterDealId: string): boolean {
    const n = this.index.get(masterDealId);
    if (n === undefined) return false;
    // The last deal moves into the evicted one's place. Its heap entries, if any, are skipped as stale.
    const last = this.held.pop() as DealState;
    if (n < this.held.length) {
      this.held[n] = last;
      this.index.set(last.master_deal_id, n);
    }
    this.index.delete(masterDealId);
    return true;
  }

  /** How many deals the book holds. */
  get size(): number {
    return this.held.length;
  }

  /** Every deal's state (in no particular order). */
  states(): readonly DealState[] {
    return this.held;
  }

  /** A deal in a final stage or stopped by a terminal fact, with no open timer left to fire. */
  isSettled(masterDealId: string): boolean {
    const state = this.get(masterDealId);
    if (!state || state.next_deadline !== null) return false;
    const stage = this.rules.stages.find((s) => s.name === state.derived.stage);
    return Boolean(stage?.final) || (state.derived.mask & this.rules.terminalMask) !== 0;
  }

  get(masterDealId: string): DealState | undefined {
    const n = this.index.get(masterDealId);
    return n === undefined ? undefined : this.held[n];
  }

  snapshot(masterDealId: string): Snapshot | undefined {
    const state = this.get(masterDealId);
    return state && snapshot(this.current(state), this.rules);
  }

  /** Snapshots of every deal, in master_deal_id order. */
  *snapshots(): IterableIterator<Snapshot> {
    for (const id of [...this.index.keys()].sort()) yield snapshot(this.current(this.get(id) as DealState), this.rules);
  }

  /**
   * The state as of the book's watermark (deals without due timers are not revisited eagerly).
   * Pure: a temporary state for a snapshot, the stored one is not touched.
   */
  private current(state: DealState): DealState {
    return this.watermark === null ? state : advanceWatermark(state, this.watermark, this.rules).state;
  }

  /** Holds `state` as its deal's (replacing the one held, if any). */
  private hold(state: DealState): void {
    const n = this.index.get(state.master_deal_id);
    if (n !== undefined) this.held[n] = state;
    else this.index.set(state.master_deal_id, this.held.push(state) - 1);
  }

  /** Queues the deal's deadline when it changed (older heap entries become stale). */
  private schedule(state: DealState, deadlineBefore: number | null | undefined): void {
    if (state.next_deadline !== null && state.next_deadline !== deadlineBefore) {
      this.timers.push(state.next_deadline, state.master_deal_id);
    }
  }

  private fireTimers(outputs: CanonicalEvent[], changed: string[]): void {
    const mark = this.watermark as number;
    while (this.timers.size > 0 && this.timers.peekDeadline() < mark) {
      const deadline = this.timers.peekDeadline();
      const id = this.timers.pop();
      const state = this.get(id);
      if (!state || state.next_deadline !== deadline) continue; // stale entry: the deal moved on
      if (!advanceWatermarkInPlace(state, mark, this.rules, outputs)) continue;
      this.schedule(state, deadline);
      if (!changed.includes(id)) changed.push(id);
    }
  }
}

/** A saved deal state was derived under rules other than the ones running now. */
export class RulesMismatchError extends Error {
  constructor(
    readonly masterDealId: string,
    readonly builtWith: string,
    rules: Rules,
  ) {
    super(
      `deal ${masterDealId} was built with rules ${builtWith}, but ${rules.source} is ${rules.fingerprint}: ` +
        'a rule change needs the state rebuilt from the raw events (masterdeal replay --from earliest --rebuild), ' +
        'or run with the rules the state was built with',
    );
    this.name = 'RulesMismatchError';
  }
}
