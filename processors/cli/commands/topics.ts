import type { Command } from 'commander';
import { IncompatibleSchemaError } from '../../kafka/registry.ts';
import { createTopicsAndSchemas, pipelineContext } from '../../pipeline/wiring.ts';

/** `masterdeal topics create`: the pipeline's topics and registry subjects, idempotent. */
export function register(program: Command): void {
  const topics = program.command('topics').description('Kafka topics and schema-registry subjects of the pipeline');
  topics
    .command('create')
    .description('create missing topics (raw per domain, canonical, changelog, dead-letter) and register the Avro schemas (BACKWARD); idempotent')
    .option('--partitions <n>', 'partitions of every topic (raw topics must be co-partitioned)', (v) => Number.parseInt(v, 10), 6)
    .option('--namespace <ns>', 'namespace of canonical, changelog and dead-letter topics (default: $MASTERDEAL_TOPIC_PREFIX or masterdeal)')
    .addHelpText('after', '\nExit codes: 0 ok, 1 Kafka or the registry failed, 3 a schema is not BACKWARD compatible with the registered one.')
    .action(async (opts: { partitions: number; namespace?: string }) => {
      if (!Number.isInteger(opts.partitions) || opts.partitions < 1) {
        process.stderr.write('topics create: --partitions must be a positive integer\n');
        process.exitCode = 1;
        return;
      }
      const ctx = pipelineContext(opts.namespace);
      try {
        const { topics: t, schemas } = await createTopicsAndSchemas(ctx, opts.partitions);
        for (const name of t.created) process.stdout.write(`created  ${name}\n`);
        for (const name of t.existing) process.stdout.write(`exists   ${name}\n`);
        for (const [topic, id] of Object.entries(schemas.envelope)) process.stdout.write(`schema   ${topic}-value id=${id}\n`);
        for (const [type, id] of Object.entries(schemas.canonical)) process.stdout.write(`schema   ${type} id=${id}\n`);
      } catch (err) {
        process.stderr.write(`topics create: ${(err as Error).message}\n`);
        process.exitCode = err instanceof IncompatibleSchemaError ? 3 : 1;
      }
    });
}
