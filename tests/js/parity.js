// Runs queries through lunr.js over the whole single index and through sitegen's chunked search
// engine; prints, per query, both result lists ([ref, score] for the first `pages` pages, fetched
// page by page as the search page does) and the bytes of index the engine read.
// node parity.js LUNR_JS ENGINE_JS SINGLE_INDEX_JSON CHUNKED_DIR QUERIES_JSON PAGE_SIZE PAGES
"use strict";
const fs = require("fs");
const path = require("path");
const [lunrPath, enginePath, singlePath, chunkedDir, queriesJSON, pageSize, pages] = process.argv.slice(2);
const lunr = require(lunrPath);
const makeEngine = require(enginePath);
const whole = lunr.Index.load(JSON.parse(fs.readFileSync(singlePath, "utf8")));
const queries = JSON.parse(queriesJSON);

async function main() {
  const out = [];
  for (const query of queries) {
    let bytes = 0;
    const engine = makeEngine(lunr, (file) => {
      const text = fs.readFileSync(path.join(chunkedDir, file), "utf8");
      bytes += text.length;
      return Promise.resolve(JSON.parse(text));
    });
    const wanted = Number(pageSize) * Number(pages);
    const expected = whole.search(query);
    const chunked = [];
    let total = null;
    let exact = null;
    for (let page = 1; page <= Number(pages); page++) {
      const answer = await engine.search(query, page * Number(pageSize));
      chunked.push(answer.results.map((r) => [r.ref, r.score]));
      total = answer.total;
      exact = answer.exact;
    }
    out.push({
      query, expected: expected.slice(0, wanted).map((r) => [r.ref, r.score]),
      expectedTotal: expected.length, chunked, total, exact, bytes,
    });
  }
  process.stdout.write(JSON.stringify(out));
}
main().catch((error) => { console.error(error.stack || error); process.exit(1); });
