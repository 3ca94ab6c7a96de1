import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { parsePosition, replay, type Position } from '../../pipeline/replay.ts';

/** `masterdeal replay`: reprocess the raw topics into a fresh namespace, optionally rebuilding the warehouse. */
export function register(program: Command): void {
  program
    .command('replay')
    .description(
      'reprocess the raw topics with a fresh consumer group and fresh state into canonical topics masterdeal.replay-<id>.* (event time only); --rebuild also reloads the warehouse',
    )
    .option('--from <pos>', 'earliest | <offset> (every partition) | <ISO timestamp>', 'earliest')
    .option('--to <pos>', 'latest | <offset> | <ISO timestamp> (default: the end offsets when the replay starts)')
    .option('--rebuild', 'migrate the target ClickHouse database (MASTERDEAL_CLICKHOUSE_DATABASE), empty raw_events/canonical_events/deal_snapshots and load them from the replay')
    .option('--now <iso>', 'the final watermark is at least this instant minus the allowed lateness (use the live clock to reproduce live breaches)')
    .option('--lateness <duration>', 'allowed lateness (default: from the rules)')
    .option('--rules <file>', 'rules YAML (what-if rule changes)')
    .option('--id <id>', 'replay id (namespace suffix); default: timestamp + random')
    .option('--no-progress', 'no progress bar')
    .addHelpText('after', '\nExit codes: 0 done, 1 failed, 2 bad options.')
    .action(async (o: { from: string; to?: string; rebuild?: boolean; now?: string; lateness?: string; rules?: string; id?: string; progress: boolean }) => {
      let from: Position;
      let to: Position | undefined;
      let nowMs: number | undefined;
      try {
        from = parsePosition(o.from);
        to = o.to ? parsePosition(o.to) : undefined;
        if (o.now) {
          nowMs = Date.parse(o.now);
          if (Number.isNaN(nowMs)) throw new Error(`--now: not an ISO timestamp: ${o.now}`);
        }
      } catch (err) {
        process.stderr.write(`replay: ${(err as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
      const bar = o.progress
        ? new SingleBar(
            { format: '{stage} {bar} {percentage}% | {value}/{total} | {speed} ev/s | ETA {eta_formatted}', hideCursor: true, stream: process.stderr, etaBuffer: 20 },
            Presets.shades_classic,
          )
        : undefined;
      let stage = '';
      let stageStart = Date.now();
      try {
        const result = await replay({
          from,
          to,
          nowMs,
          lateness: o.lateness,
          rulesFile: o.rules,
          rebuild: o.rebuild,
          id: o.id,
          onProgress: (done, total, s) => {
            if (!bar) return;
            if (s !== stage) {
              if (stage) bar.stop();
              stage = s;
              stageStart = Date.now();
              bar.start(total, 0, { stage: s.padEnd(7), speed: 0 });
            }
            bar.update(done, { speed: Math.round(done / Math.max(0.001, (Date.now() - stageStart) / 1000)) });
          },
        });
        bar?.stop();
        process.stdout.write(`${JSON.stringify(result)}\n`);
        process.exit(0);
      } catch (err) {
        bar?.stop();
        process.stderr.write(`replay: ${(err as Error).message}\n`);
        process.exit(1);
      }
    });
}
