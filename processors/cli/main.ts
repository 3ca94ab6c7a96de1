import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';

/**
 * Each file in ./commands exports `register(program)`; commands live beside the
 * capability they expose, so adding one never touches this file.
 */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('masterdeal')
    .description('MasterDeal pipeline: deal state, SLA timers and ClickHouse marts from domain events')
    .showHelpAfterError();
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) {
    const mod = (await import(join(dir, file))) as { register?: (p: Command) => void };
    mod.register?.(program);
  }
  await program.parseAsync(argv);
}
