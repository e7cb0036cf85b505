// Run Dolos (@dodona/dolos-lib) on a list of files and print its pairs as JSON, so provscan's benchmarks can
// compare against a published peer tool on the same inputs. Driven by bench/peers/dolos.py.
//
//   node dolos_pairs.mjs CONFIG.json
//
// CONFIG: {"dolos_root": dir holding node_modules/@dodona/dolos-lib, "files": [path, ...], "language": "python",
//          "k": 23, "window": 17, "fragments": false, "min_fragment_kgrams": 1, "min_similarity": 0,
//          "max_fingerprint_percentage": null}
// stdout: {"pairs": [{"left", "right", "similarity", "fragments"?: [{"left": [l0, l1], "right": [r0, r1]}]}],
//          "files": n analysed, "errors": [{"path", "stage", "message"}], "timings_ms": {...}, "dolos": version}
// Lines are 1-based and inclusive. Pairs with similarity 0 (nothing shared) are left out: Dolos builds all n^2/2.
// A file Dolos cannot read, tokenize or fingerprint is reported under "errors" and left out; the rest still run.
// Progress goes to stderr, one line per stage, so a caller that had to kill a slow run knows how far it got.
// Exit code 2 with {"error": message} on stdout when nothing useful could be computed.

import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";

function fail(message) {
  process.stdout.write(JSON.stringify({ error: message }) + "\n");
  process.exit(2);
}

function progress(message) {
  process.stderr.write(`dolos: ${message}\n`);
}

// Tree-sitter rows are 0-based; a region that ends at column 0 stops before that row.
function lines(region) {
  const start = region.startRow + 1;
  let end = region.endRow + 1;
  if (region.endCol === 0 && region.endRow > region.startRow) end -= 1;
  return [start, end];
}

async function main() {
  if (process.argv.length < 3) fail("usage: node dolos_pairs.mjs CONFIG.json");
  const config = JSON.parse(await readFile(process.argv[2], "utf8"));
  const require = createRequire(path.join(path.resolve(config.dolos_root), "noop.js"));
  let dolosLib;
  let version;
  try {
    // The package lives outside this script's folder (bench/.peers/dolos), so resolve it from there.
    dolosLib = await import(pathToFileURL(require.resolve("@dodona/dolos-lib")).href);
    const packageJson = path.join(path.resolve(config.dolos_root), "node_modules/@dodona/dolos-lib/package.json");
    version = JSON.parse(await readFile(packageJson, "utf8")).version;
  } catch (error) {
    fail(`cannot load @dodona/dolos-lib from ${config.dolos_root}: ${error.message}`);
  }
  const { Dolos, File, LanguagePicker, FingerprintIndex } = dolosLib;
  const options = {
    language: config.language ?? "python",
    kgramLength: config.k ?? 23,
    kgramsInWindow: config.window ?? 17,
    minSimilarity: config.min_similarity ?? 0,
    maxFingerprintPercentage: config.max_fingerprint_percentage ?? null,
  };
  const timings = {};
  const errors = [];
  let clock = performance.now();
  const lap = (name) => {
    const now = performance.now();
    timings[name] = Math.round(now - clock);
    clock = now;
  };

  // Read the files ourselves (not analyzePaths): one unreadable file then costs that file, not the whole run.
  let files = [];
  for (const filePath of config.files) {
    try {
      files.push(new File(filePath, await readFile(filePath, "utf8")));
    } catch (error) {
      errors.push({ path: filePath, stage: "read", message: error.message });
    }
  }
  lap("read");
  progress(`read ${files.length} of ${config.files.length} files`);
  if (files.length < 2) fail(`dolos needs at least two readable files, got ${files.length}`);

  let report;
  try {
    report = await new Dolos(options).analyze(files);
  } catch (error) {
    // Dolos tokenizes and indexes all files in one go and throws on the first bad one. Find the bad files one by
    // one with the same tokenizer and index, drop them and run again on the rest.
    progress(`analyze failed (${error.message}); probing files one by one`);
    let tokenizer;
    try {
      const language = await new LanguagePicker().findLanguage(options.language);
      tokenizer = await language.createTokenizer({ includeComments: false });
    } catch (languageError) {
      fail(`dolos cannot set up language ${options.language}: ${languageError.message}`);
    }
    const good = [];
    for (const file of files) {
      try {
        new FingerprintIndex(options.kgramLength, options.kgramsInWindow, false).addFiles([tokenizer.tokenizeFile(file)]);
        good.push(file);
      } catch (fileError) {
        errors.push({ path: file.path, stage: "analyze", message: fileError.message });
      }
    }
    if (good.length === files.length) fail(`dolos analyze failed: ${error.message}`);
    files = good;
    try {
      report = await new Dolos(options).analyze(files);
    } catch (retryError) {
      fail(`dolos analyze failed: ${retryError.message}`);
    }
  }
  lap("analyze");
  progress(`tokenized and indexed ${report.files.length} files`);

  const pairs = [];
  for (const pair of report.allPairs()) {
    if (pair.similarity <= 0 || pair.similarity < options.minSimilarity) continue;
    const row = { left: pair.leftFile.path, right: pair.rightFile.path, similarity: pair.similarity };
    if (config.fragments) {
      row.fragments = pair.buildFragments(config.min_fragment_kgrams ?? 1).map((fragment) => ({
        left: lines(fragment.leftSelection),
        right: lines(fragment.rightSelection),
      }));
    }
    pairs.push(row);
  }
  lap(config.fragments ? "pairs_and_fragments" : "pairs");
  progress(`${pairs.length} pairs with shared fingerprints`);
  pairs.sort((a, b) => b.similarity - a.similarity);
  process.stdout.write(JSON.stringify({ pairs, files: report.files.length, errors, timings_ms: timings, dolos: version }));
  process.stdout.write("\n");
}

main().catch((error) => fail(`unexpected: ${error.stack ?? error}`));
