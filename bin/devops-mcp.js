#!/usr/bin/env node
// Launcher: turn on Node's compile cache before loading the bundle, so later starts skip parsing it.
import module from 'node:module';

module.enableCompileCache?.();
const { main } = await import('../dist/cli.js');
await main();
