import { validateEnvelope } from '../codec/envelope-json.ts';
import type { Envelope } from '../core/envelope.ts';
import { generateEvents, type GenerateOptions } from '../generate/generator.ts';

/** The generator's envelopes in their validated form (epoch-ms event_ts), as simulate sends them. */
export function* generatedEnvelopes(options: GenerateOptions): Generator<Envelope> {
  for (const json of generateEvents(options)) {
    const v = validateEnvelope(json);
    if (!v.ok) throw new Error(`generator produced an invalid envelope ${json.event_id}: ${v.reason}`);
    yield v.envelope;
  }
}
