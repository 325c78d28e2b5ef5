#!/usr/bin/env node
// The chorus command line (`npm start`, `npm run chorus -- …`): the same as `node src/daemon/cli.ts`, but in
// JavaScript, so that it runs before any TypeScript loads. It turns Node's module compile cache on first
// (os.tmpdir()/node-compile-cache, or NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off): a warm
// start then takes every type-stripped source and its compiled code from the cache and never loads Node's
// TypeScript stripper, which is about 15 MB of the idle daemon's resident memory.
import { enableCompileCache } from 'node:module';
import process from 'node:process';

enableCompileCache();
// V8's helper threads sized to the machine's cores (src/daemon/v8-pool-size.ts): on a small machine this
// process is replaced, before it does anything, by one started with `--v8-pool-size`.
const { sizeV8Pool } = await import('../src/daemon/v8-pool-size.ts');
sizeV8Pool();
const { main } = await import('../src/daemon/cli.ts');
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
