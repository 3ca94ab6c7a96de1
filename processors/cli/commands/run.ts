import type { Command } from 'commander';
import { serveMetrics } from '../../pipeline/metrics.ts';
import { RulesMismatchError } from '../../core/index.ts';
import { BACKLOG_RECORDS, BACKLOG_SNAPSHOT_INTERVAL_MS } from '../../pipeline/processor.ts';
import { onShutdown, startProcessor, startSink } from '../../pipeline/roles.ts';
import { SINK_BACKLOG_MAX_AGE_MS, SINK_BACKLOG_RECORDS } from '../../pipeline/sink.ts';

const int = (v: string) => Number.parseInt(v, 10);
const NAMESPACE_HELP =
  "namespace of the canonical, changelog and dead-letter topics and of the group (default: the topic prefix); e.g. a replay's `<prefix>.replay-<id>` to go on live from the state a replay built";
const PREFIX_HELP = '\nTopic names start with $MASTERDEAL_TOPIC_PREFIX (default masterdeal).';

/** `masterdeal run processor|sink`: the long-running pipeline roles. */
export function register(program: Command): void {
  const run = program.command('run').description('run a pipeline role until SIGTERM/SIGINT (graceful: finishes the batch in flight)');

  run
    .command('processor')
    .description('raw topics -> deal state -> canonical topics, exactly once (Kafka transactions, one transactional id per partition)')
    .option('--group <id>', 'consumer group (default: <prefix>-processor; transactional ids <prefix>-processor-p<N>)')
    .option('--rules <file>', 'rules YAML (default: the built-in rules)')
    .option('--namespace <ns>', NAMESPACE_HELP)
    .option('--lateness <duration>', 'allowed lateness of the event-time watermark (default: from the rules, e.g. 15m)')
    .option('--idle-after <ms>', 'live mode: a partition idle this long moves its watermark from the wall clock (0 = never)', int, 5_000)
    .option('--now <iso>', 'start the processor clock at this instant (it then runs at wall-clock speed); tests, what-if. Default: the real clock')
    .option('--snapshot-interval <ms>', 'publish coalesced deal snapshots at most this often per partition (0 = every transaction)', int, 500)
    .option('--backlog-snapshot-interval <ms>', `the snapshot interval while a partition is more than ${BACKLOG_RECORDS} records behind (catching up): fewer, later snapshots of the same final states (0 = off)`, int, BACKLOG_SNAPSHOT_INTERVAL_MS)
    .option('--partitions <n>', 'partitions when topics must be created', int, 6)
    .option('--metrics-port <port>', 'Prometheus /metrics port (0 = off)', int, 9464)
    .addHelpText(
      'after',
      `${PREFIX_HELP}\nExit codes: 0 stopped cleanly, 1 failed (see the JSON log on stderr), ${EXIT_RULES_CHANGED} the saved deal states were built with other rules (replay with --rebuild, or run with those rules).`,
    )
    .action(async (o: { group?: string; rules?: string; namespace?: string; lateness?: string; idleAfter: number; now?: string; snapshotInterval: number; backlogSnapshotInterval: number; partitions: number; metricsPort: number }) => {
      let clock: (() => number) | undefined;
      if (o.now) {
        const start = Date.parse(o.now);
        if (Number.isNaN(start)) return fail(`--now: not an ISO timestamp: ${o.now}`);
        const offset = start - Date.now();
        clock = () => Date.now() + offset;
      }
      const metrics = serveMetrics(o.metricsPort);
      try {
        const { processor, running } = await startProcessor({
          namespace: o.namespace,
          groupId: o.group,
          rulesFile: o.rules,
          lateness: o.lateness,
          idleAfterMs: o.idleAfter,
          clock,
          snapshotIntervalMs: o.snapshotInterval,
          backlogSnapshotIntervalMs: o.backlogSnapshotInterval,
          partitions: o.partitions,
        });
        onShutdown(() => processor.stop(), metrics);
        await running;
        await processor.failed.catch(async (err: Error) => {
          await processor.stop().catch(() => undefined);
          throw err;
        });
      } catch (err) {
        metrics?.close();
        fail((err as Error).message, err instanceof RulesMismatchError ? EXIT_RULES_CHANGED : 1);
      }
    });

  run
    .command('sink')
    .description('raw (valid) and canonical topics -> ClickHouse raw_events, canonical_events, deal_snapshots; commits offsets after ClickHouse acknowledged')
    .option('--group <id>', 'consumer group (default: <prefix>-sink)')
    .option('--namespace <ns>', NAMESPACE_HELP)
    .option('--max-rows <n>', 'flush when this many rows are buffered', int, 50_000)
    .option('--max-age <ms>', 'a buffer this old is flushed as soon as no flush is in flight (one at a time, so under load flushes grow instead of queueing; latency vs. insert rate)', int, 100)
    .option('--backlog-max-age <ms>', `the max age while more than ${SINK_BACKLOG_RECORDS} records behind (catching up): fewer, larger inserts; never below --max-age`, int, SINK_BACKLOG_MAX_AGE_MS)
    .option('--partitions <n>', 'partitions when topics must be created', int, 6)
    .option('--metrics-port <port>', 'Prometheus /metrics port (0 = off)', int, 9465)
    .addHelpText('after', `${PREFIX_HELP}\nExit codes: 0 stopped cleanly, 1 failed (see the JSON log on stderr).`)
    .action(async (o: { group?: string; namespace?: string; maxRows: number; maxAge: number; backlogMaxAge: number; partitions: number; metricsPort: number }) => {
      const metrics = serveMetrics(o.metricsPort);
      try {
        const { sink, running, close } = await startSink({
          namespace: o.namespace, groupId: o.group, maxRows: o.maxRows, maxAgeMs: o.maxAge, backlogMaxAgeMs: o.backlogMaxAge, partitions: o.partitions,
        });
        onShutdown(async () => {
          await sink.stop();
          await close();
        }, metrics);
        await running;
      } catch (err) {
        metrics?.close();
        fail((err as Error).message);
      }
    });
}

/** The processor's saved state was built with other rules: rebuild it (replay) or run the old rules. */
const EXIT_RULES_CHANGED = 3;

function fail(message: string, code = 1): void {
  process.stderr.write(`run: ${message}\n`);
  process.exitCode = code;
}
