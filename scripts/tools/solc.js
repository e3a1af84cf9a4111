#!/usr/bin/env node
// A drop-in `solc` for the subset of the native CLI that zkinfer (through foundry-compilers) uses:
//   solc --version
//   solc [--base-path P] [--include-path P]... [--allow-paths a,b] --standard-json   (JSON on stdin)
// It runs the pinned solcjs (the real compiler built to WebAssembly) installed beside it.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));

const args = process.argv.slice(2);
if (args.includes('--version')) {
  process.stdout.write('solc, the solidity compiler commandline interface\nVersion: ' + solc.version() + '\n');
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  process.stderr.write('solc (zkinfer wrapper): only --version and --standard-json are supported\n');
  process.exit(2);
}
const roots = [];
for (let i = 0; i < args.length; i++) {
  if ((args[i] === '--base-path' || args[i] === '--include-path') && i + 1 < args.length) roots.push(args[++i]);
  else if (args[i] === '--allow-paths') i++;
}
if (roots.length === 0) roots.push(process.cwd());

function findImports(p) {
  for (const r of [''].concat(roots)) {
    const full = r ? path.resolve(r, p) : path.resolve(p);
    if (fs.existsSync(full)) return { contents: fs.readFileSync(full, 'utf8') };
  }
  return { error: 'File not found: ' + p };
}
const input = fs.readFileSync(0, 'utf8');
process.stdout.write(solc.compile(input, { import: findImports }));
