import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { rngFor } from '../../generate/prng.ts';
import { KafkaEventSink } from '../../kafka/kafkajs.ts';
import { simulate } from '../../pipeline/simulate.ts';
import { generatedEnvelopes } from '../../pipeline/traffic.ts';
import { createTopicsAndSchemas, pipelineContext } from '../../pipeline/wiring.ts';

const num = (v: string) => Number(v);

/** `masterdeal simulate`: the generator's traffic to the raw topics through the registry. */
export function register(program: Command): void {
  program
    .command('simulate')
    .description('produce generated deal events to the raw topics (Confluent-framed Avro via the registry), optionally with malformed records')
    .requiredOption('--deals <n>', 'number of deals', num)
    .option('--rate <events/s>', 'target events per second (0 = as fast as possible)', num, 1_000)
    .option('--bad-fraction <f>', 'per event, the chance of an extra malformed record (bad magic, unknown schema id, garbage Avro, invalid envelope)', num, 0)
    .option('--seed <s>', 'generator seed', '1')
    .option('--duplicates <f>', 'fraction of events sent twice', num, 0)
    .option('--late <f>', 'fraction of events delivered late', num, 0)
    .option('--shuffle-window <n>', 'reorder arrivals within this many events', num, 0)
    .option('--start <iso>', 'when the first deal is created (default: the generator default)')
    .option('--days <n>', 'deals are created over this many days', num)
    .option('--partitions <n>', 'partitions when topics must be created', num, 6)
    .option('--no-progress', 'no progress bar')
    .addHelpText('after', '\nExit codes: 0 all sent, 1 Kafka/registry failure or bad options.')
    .action(async (o: {
      deals: number; rate: number; badFraction: number; seed: string; duplicates: number; late: number;
      shuffleWindow: number; start?: string; days?: number; partitions: number; progress: boolean;
    }) => {
      if (!Number.isInteger(o.deals) || o.deals < 1) return fail('--deals must be a positive integer');
      if (!(o.rate >= 0)) return fail('--rate must be >= 0');
      if (!(o.badFraction >= 0 && o.badFraction <= 1)) return fail('--bad-fraction must be within 0..1');
      const seed = /^-?\d+$/.test(o.seed) ? Number(o.seed) : o.seed;
      const ctx = pipelineContext();
      const sink = new KafkaEventSink(ctx.kafka);
      let stop = false;
      process.once('SIGINT', () => (stop = true));
      process.once('SIGTERM', () => (stop = true));
      const bar = o.progress ? new SingleBar({ format: 'simulate {bar} {value} sent | {rate} ev/s', hideCursor: true, stream: process.stderr }, Presets.shades_classic) : undefined;
      try {
        const { schemas } = await createTopicsAndSchemas(ctx, o.partitions);
        const events = generatedEnvelopes({
          deals: o.deals, seed, duplicates: o.duplicates, late: o.late, shuffleWindow: o.shuffleWindow,
          ...(o.start ? { start: o.start } : {}), ...(o.days ? { days: o.days } : {}),
        });
        const started = Date.now();
        bar?.start(0, 0, { rate: 0 });
        const rng = rngFor(typeof seed === 'number' ? seed : 1, 'simulate-malformed');
        const result = await simulate(events, sink, {
          layout: ctx.layout,
          schemaIds: schemas.envelope,
          rate: o.rate,
          badFraction: o.badFraction,
          random: () => rng.next(),
          shouldStop: () => stop,
          onProgress: (sent) => {
            bar?.setTotal(sent);
            bar?.update(sent, { rate: Math.round(sent / Math.max(0.001, (Date.now() - started) / 1000)) });
          },
        });
        bar?.stop();
        process.stdout.write(`${JSON.stringify(result)}\n`);
      } catch (err) {
        bar?.stop();
        fail((err as Error).message);
      } finally {
        await sink.close();
      }
    });
}

function fail(message: string): void {
  process.stderr.write(`simulate: ${message}\n`);
  process.exitCode = 1;
}
