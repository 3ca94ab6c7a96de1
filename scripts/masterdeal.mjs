#!/usr/bin/env node
// The `masterdeal` bin: runs the TypeScript CLI through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../processors/cli/main.ts');
await main(process.argv);
