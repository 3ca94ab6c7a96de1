import type { DealState, SavedDealState } from '../core/index.ts';
import { schemaCatalog } from '../codec/schemas.ts';
import { writeZigZag } from '../codec/varint.ts';

/**
 * The processor's changelog values (compacted topic, key = master_deal_id).
 *
 * A deal's value is written once per changed deal per transaction, and a state holds every event
 * id the deal has seen, so this is the processor's largest output by far. It is written as the
 * Avro binary of schemas/state/DealChangelogEntry.avsc after one format byte: about 40% fewer bytes
 * than the JSON it replaces (a fact's event id is not repeated: it points into `seen`), and written
 * by hand here in one pass (avsc's generic writer encodes strings char by char and was slower than
 * JSON.stringify). Values written before (a JSON object: first byte '{') still restore.
 * test/pipeline/changelog.test.ts checks the bytes against avsc's encoding of the schema.
 */

export const CHANGELOG_ENTRY_TYPE = 'ru.masterdeal.state.DealChangelogEntry';
/** First byte of an Avro-encoded value; a JSON value starts with '{' (0x7b). */
export const CHANGELOG_FORMAT_AVRO = 0x01;

/** A deal's changelog value, decoded: the saved (or, from old JSON values, whole) state and its last published snapshot version. */
export interface ChangelogEntry {
  state: SavedDealState | DealState;
  snapshot_version: number | null;
}

// ---------------------------------------------------------------- writing

/** Node's native UTF-8 write (what Buffer#write calls after checking its arguments). */
type Scratch = Buffer & { utf8Write(s: string, offset: number): number };

/**
 * Values are written straight into a shared chunk and handed out as views of it, so a
 * transaction's thousands of values cost no allocation and copy each (a pooled Buffer per value
 * was a good part of the processor's garbage). A value kept for long keeps its chunk alive; the
 * processor drops them once their transaction is sent.
 */
const CHUNK_BYTES = 1 << 20;
let scratch = Buffer.allocUnsafeSlow(CHUNK_BYTES) as Scratch;
/** Where the value being written starts, and the write position. */
let start = 0;
let pos = 0;

function ensure(n: number): void {
  if (pos + n <= scratch.length) return;
  const used = pos - start;
  const next = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, 2 * (used + n))) as Scratch;
  scratch.copy(next, 0, start, pos);
  scratch = next;
  start = 0;
  pos = used;
}

/** The integers whose zig-zag form a double holds exactly and avsc reads back: [-2^52, 2^53 - 2]. */
const MIN_EXACT_LONG = -(2 ** 52);
const MAX_EXACT_LONG = 2 ** 53 - 2;

/** Avro long/int (epoch ms, watermarks, versions). */
function writeLong(v: number): void {
  ensure(10);
  if ((v | 0) !== v && !(v >= MIN_EXACT_LONG && v <= MAX_EXACT_LONG && Number.isInteger(v))) {
    throw new RangeError(`changelog value: ${v} is not an integer in [-2^52, 2^53 - 2]`);
  }
  pos = writeZigZag(scratch, pos, v);
}

/** Avro string: length, then UTF-8 written natively (the length prefix is fixed up after). */
function writeString(s: string): void {
  ensure(5 + s.length * 3);
  const at = pos;
  const n = scratch.utf8Write(s, at + 1);
  if (n < 64) {
    scratch[at] = n << 1;
    pos = at + 1 + n;
    return;
  }
  // Rare: a length of two or more varint bytes; move the bytes over.
  const body = Buffer.from(scratch.subarray(at + 1, at + 1 + n));
  pos = at;
  writeLong(n);
  body.copy(scratch, pos);
  pos += n;
}

function writeNullableLong(v: number | null | undefined): void {
  if (v === null || v === undefined) return writeLong(0);
  writeLong(1);
  writeLong(v);
}

function writeStrings(items: readonly string[]): void {
  if (items.length > 0) {
    writeLong(items.length);
    for (const s of items) writeString(s);
  }
  writeLong(0);
}

/** Position of a fact's id in `seen`, searched from `hint` on (facts mostly arrive in seen order). */
function indexIn(seen: readonly string[], id: string, hint: number): number {
  for (let i = hint; i < seen.length; i++) if (seen[i] === id) return i;
  for (let i = 0; i < hint && i < seen.length; i++) if (seen[i] === id) return i;
  return -1;
}

/** The changelog value of a deal: format byte + DealChangelogEntry (what `savedState` keeps, and the snapshot version). */
export function encodeChangelogEntry(state: DealState | SavedDealState, snapshotVersion: number | null): Buffer {
  start = pos;
  ensure(1);
  scratch[pos++] = CHANGELOG_FORMAT_AVRO;
  writeString(state.master_deal_id);
  writeLong(state.version);
  if (state.rules === undefined) writeLong(0);
  else {
    writeLong(1);
    writeString(state.rules);
  }
  const seen = state.seen;
  writeStrings(seen);
  const facts = state.facts;
  if (facts.length > 0) {
    writeLong(facts.length);
    let hint = 0;
    for (const f of facts) {
      writeLong(f.ts);
      const i = indexIn(seen, f.id, hint);
      writeLong(i);
      if (i < 0) writeString(f.id);
      else {
        writeLong(0); // empty id: it is seen[i]
        hint = i + 1;
      }
      writeString(f.type);
    }
  }
  writeLong(0);
  writeStrings(state.breaches);
  const emitted = state.emitted;
  if (emitted === undefined) writeLong(0);
  else {
    writeLong(1);
    if (emitted.length > 0) {
      writeLong(emitted.length);
      ensure(emitted.length * 8);
      for (const h of emitted) pos = scratch.writeDoubleLE(h, pos); // 53-bit integers: exact as doubles
    }
    writeLong(0);
  }
  writeNullableLong(state.watermark);
  writeNullableLong(state.next_deadline);
  writeNullableLong(state.first_event_ts);
  writeNullableLong(state.last_event_ts);
  writeNullableLong(snapshotVersion);
  return scratch.subarray(start, pos);
}

// ---------------------------------------------------------------- reading

interface DecodedEntry {
  master_deal_id: string;
  version: number;
  rules: string | null;
  seen: string[];
  facts: { ts: number; seen_index: number; id: string; type: string }[];
  breaches: string[];
  emitted: number[] | null;
  watermark: number | null;
  next_deadline: number | null;
  first_event_ts: number | null;
  last_event_ts: number | null;
  snapshot_version: number | null;
}

export class ChangelogDecodeError extends Error {}

/** A deal's changelog value in either format (Avro with the format byte, or the JSON written before it). */
export function decodeChangelogEntry(value: Buffer): ChangelogEntry {
  if (value.length > 0 && value[0] === CHANGELOG_FORMAT_AVRO) {
    let d: DecodedEntry;
    try {
      d = schemaCatalog().type(CHANGELOG_ENTRY_TYPE).fromBuffer(value.subarray(1)) as DecodedEntry;
    } catch (err) {
      throw new ChangelogDecodeError(`changelog value is not a valid DealChangelogEntry: ${(err as Error).message}`, { cause: err });
    }
    const facts = d.facts.map((f) => {
      const id = f.seen_index >= 0 ? d.seen[f.seen_index] : f.id;
      if (id === undefined) throw new ChangelogDecodeError(`deal ${d.master_deal_id}: fact points at seen[${f.seen_index}] of ${d.seen.length}`);
      return { ts: f.ts, id, type: f.type };
    });
    const state: SavedDealState = {
      master_deal_id: d.master_deal_id,
      version: d.version,
      ...(d.rules === null ? {} : { rules: d.rules }),
      seen: d.seen,
      facts,
      breaches: d.breaches,
      ...(d.emitted === null ? {} : { emitted: d.emitted }),
      watermark: d.watermark,
      next_deadline: d.next_deadline,
      first_event_ts: d.first_event_ts,
      last_event_ts: d.last_event_ts,
    };
    return { state, snapshot_version: d.snapshot_version };
  }
  return JSON.parse(value.toString()) as ChangelogEntry;
}
