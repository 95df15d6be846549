#!/usr/bin/env node
// Compile the project's own Solidity sources (contracts/*.sol) with solc-js and write one
// artifact per contract to var/build/contracts/<Name>.json ({contractName, abi, bytecode,
// deployedBytecode}).
//
// Why solc-js: it ships as an npm package, so `npm ci` is the whole toolchain set-up (no
// native solc download). Imports such as "@openzeppelin/contracts/..." are resolved from
// node_modules. The run is skipped when a stamp of (compiler version, settings, sources)
// is unchanged, so calling it before every test run costs almost nothing.
//
// Usage: node scripts/compile_contracts.mjs [--force]

import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const contractsDir = path.join(repoRoot, "contracts");
const outDir = path.join(repoRoot, "var", "build", "contracts");
const stampPath = path.join(outDir, ".stamp");
const nodeModules = path.join(repoRoot, "node_modules");

let solc;
try {
  solc = require("solc");
} catch {
  console.error("solc is not installed: run `npm ci` in the repository root first.");
  process.exit(1);
}

const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: {
    "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
  },
};

const sourceFiles = fs
  .readdirSync(contractsDir)
  .filter((f) => f.endsWith(".sol"))
  .sort();
const sources = {};
for (const file of sourceFiles) {
  sources[`contracts/${file}`] = { content: fs.readFileSync(path.join(contractsDir, file), "utf8") };
}

/** Resolve an import that is not one of our own sources: packages from node_modules. */
function findImports(importPath) {
  const candidates = [path.join(nodeModules, importPath), path.join(repoRoot, importPath)];
  for (const candidate of candidates) {
    const resolved = path.resolve(candidate);
    if (!resolved.startsWith(repoRoot + path.sep)) continue; // never read outside the repo
    if (fs.existsSync(resolved)) return { contents: fs.readFileSync(resolved, "utf8") };
  }
  return { error: `File not found: ${importPath} (run \`npm ci\`?)` };
}

// The stamp covers our sources, the compiler and its settings. Imported library sources
// are pinned by package-lock.json, so a lock change is included too.
const hash = createHash("sha256");
hash.update(solc.version());
hash.update(JSON.stringify(settings));
const lockPath = path.join(repoRoot, "package-lock.json");
if (fs.existsSync(lockPath)) hash.update(fs.readFileSync(lockPath));
for (const [name, { content }] of Object.entries(sources)) {
  hash.update(name);
  hash.update("\0");
  hash.update(content);
  hash.update("\0");
}
const stamp = hash.digest("hex");

const force = process.argv.includes("--force");
if (!force && fs.existsSync(stampPath) && fs.readFileSync(stampPath, "utf8").trim() === stamp) {
  console.log(`contracts up to date (${sourceFiles.length} sources, ${path.relative(repoRoot, outDir)})`);
  process.exit(0);
}

const input = { language: "Solidity", sources, settings };
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));

let failed = false;
for (const diag of output.errors ?? []) {
  if (diag.severity === "error") failed = true;
  console.error(diag.formattedMessage ?? diag.message);
}
if (failed) {
  console.error("compilation failed");
  process.exit(1);
}

fs.mkdirSync(outDir, { recursive: true });
// Remove artifacts of contracts that no longer exist so stale ABIs cannot be loaded.
for (const f of fs.readdirSync(outDir)) {
  if (f.endsWith(".json")) fs.rmSync(path.join(outDir, f));
}
let written = 0;
for (const [sourceName, contracts] of Object.entries(output.contracts ?? {})) {
  if (!sourceName.startsWith("contracts/")) continue; // skip imported library contracts
  for (const [contractName, c] of Object.entries(contracts)) {
    const artifact = {
      contractName,
      sourceName,
      compiler: solc.version(),
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
    fs.writeFileSync(path.join(outDir, `${contractName}.json`), JSON.stringify(artifact, null, 2) + "\n");
    written += 1;
  }
}
fs.writeFileSync(stampPath, stamp + "\n");
console.log(`compiled ${written} contracts from ${sourceFiles.length} sources into ${path.relative(repoRoot, outDir)}`);
