// Reads a JSON list of strings on standard input; prints, for each, the terms lunr.js 2.3.9's
// default pipeline (tokenizer, trimmer, stop-word filter, stemmer) makes of it, as JSON.
"use strict";
const lunr = require(process.argv[2]);
const pipeline = new lunr.Pipeline();
pipeline.add(lunr.trimmer, lunr.stopWordFilter, lunr.stemmer);
let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const texts = JSON.parse(input);
  const out = texts.map((text) =>
    pipeline.run(lunr.tokenizer(text)).map(String).filter((term) => term !== ""));
  process.stdout.write(JSON.stringify(out));
});
