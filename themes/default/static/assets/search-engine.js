/* sitegen's search engine: lunr.js 2.3.9's own ranking over the whole index, computed from the few
   files of the chunked index that a query needs (docs/search.md explains the layout).

   lunr.js scores a paper as a sum, over the query's terms and fields, of a query weight times the
   paper's weight for that term and field. So a term's papers are stored strongest first, in
   chunks, and read only until no unread paper can reach the results asked for (Fagin's threshold
   algorithm); a paper seen for one term has its weights for the others looked up in paper-ordered
   blocks. The papers that can rank are then put into a lunr.Index with just the query's terms, and
   lunr.js itself ranks them: same papers, order and scores as over the whole index.

   Works in browsers (window.sitegenSearch) and in Node (module.exports), given lunr and a function
   that fetches a file of the index (path relative to search/) as parsed JSON. */
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory;
  else root.sitegenSearch = factory;
})(this, function (lunr, fetchJSON) {
  "use strict";

  var EPSILON = 1e-9; /* room for floating-point differences between our sums and lunr.js's */
  var MAX_TERMS = 2000; /* a wildcard or fuzzy term that expands further is refused */
  var BLOCKS_PER_ROUND = 24;
  var BLOCK_BYTES = 650; /* gzipped, a 256-entry paper-ordered block, measured */
  var ENTRY_BYTES = 3.5; /* gzipped, an entry of a weight-ordered chunk, measured */
  var PRESENCE = lunr.Query.presence;

  var files = Object.create(null);
  var terms = Object.create(null); /* term → its state, once its shard is read */
  var vocabulary = null; /* lunr.TokenSet of every term, for fuzzy and leading wildcards */
  var pipeline = lunr.Pipeline.load(["stemmer"]);

  function file(path) {
    if (!(path in files)) {
      files[path] = fetchJSON(path).catch(function (error) {
        delete files[path]; /* a failed fetch is tried again next time */
        throw error;
      });
    }
    return files[path];
  }

  function meta() { return file("meta.json"); }

  /* The position of the last item of a sorted, non-empty list that is not after value (0 when
     all are): the shard or block whose range holds it. */
  function lastAtMost(sorted, value) {
    var low = 0, high = sorted.length - 1;
    while (low < high) {
      var middle = (low + high + 1) >> 1;
      if (sorted[middle] <= value) low = middle; else high = middle - 1;
    }
    return low;
  }

  function shardOf(info, word) { return lastAtMost(info.shards, word); }

  function blockOf(state, paper) { return lastAtMost(state.blockStarts, paper); }

  /* Where a term's weight-ordered chunk k starts: chunk 0 has info.chunk entries, each next one
     twice as many as the last. */
  function chunkStart(info, k) { return info.chunk * (Math.pow(2, k) - 1); }

  function readShard(info, number) {
    return file("s/" + number + ".json").then(function (rows) {
      rows.forEach(function (row) {
        if (terms[row[0]]) return;
        var state = {
          term: row[0], number: row[1], count: row[2], perField: row[3],
          known: new Map(), complete: false, theta: Infinity, chunksRead: 0,
          chunkCount: 0, blockStarts: null, blocksRead: new Set()
        };
        if (row[4]) {
          addEntries(state, row[4], false);
          state.complete = true;
          state.theta = 0;
        } else {
          while (chunkStart(info, state.chunkCount) < state.count) state.chunkCount++;
        }
        terms[row[0]] = state;
      });
      return rows;
    });
  }

  /* Entries are flat: paper, then per field its weight × 1000 + 1, or 0 where absent. */
  function addEntries(state, flat, gaps) {
    var paper = 0;
    for (var i = 0; i < flat.length; i += 5) {
      paper = gaps ? paper + flat[i] : flat[i];
      state.known.set(paper, [flat[i + 1], flat[i + 2], flat[i + 3], flat[i + 4]]);
    }
  }

  function readChunk(state) {
    var k = state.chunksRead;
    return file("w/" + state.number + "." + k + ".json").then(function (chunk) {
      if (state.chunksRead !== k) return;
      var entries = chunk.e;
      addEntries(state, entries, false);
      if (chunk.b) state.blockStarts = chunk.b;
      state.chunksRead = k + 1;
      var last = entries.length - 5;
      state.theta = last >= 0 ? (entries[last + 1] + entries[last + 2] + entries[last + 3] + entries[last + 4]) / 1000 : 0;
      if (state.chunksRead >= state.chunkCount) { state.complete = true; state.theta = 0; }
    });
  }

  function nextChunkEntries(info, state) {
    var k = state.chunksRead;
    return Math.min(chunkStart(info, k + 1), state.count) - chunkStart(info, k);
  }

  function readBlock(state, block) {
    return file("r/" + state.number + "." + block + ".json").then(function (flat) {
      addEntries(state, flat, true);
      state.blocksRead.add(block);
    });
  }

  /* Whether the weights of paper for this term are known (present, or known to be absent). */
  function resolved(state, paper) {
    return state.complete || state.known.has(paper) || (state.blockStarts !== null && state.blocksRead.has(blockOf(state, paper)));
  }

  /* Whether paper has t's term in one of t's fields: true, false, or null while unknown. */
  function has(t, paper) {
    var weights = t.state.known.get(paper);
    if (weights) return t.fields.some(function (f) { return weights[f] > 0; });
    return resolved(t.state, paper) ? false : null;
  }

  /* Reads what settles paper for this term: the block holding it, or first the chunk that says
     where the blocks start. */
  function readFor(state, paper) {
    return state.blockStarts === null ? readChunk(state) : readBlock(state, blockOf(state, paper));
  }

  /* --- planning a query ---------------------------------------------------------------------- */

  function expand(info, clause, word) {
    var pattern = lunr.TokenSet.fromClause("editDistance" in clause ? { term: word, editDistance: clause.editDistance } : { term: word });
    var star = word.indexOf("*");
    if (info.shards.length === 0) return Promise.resolve([]); /* a site without papers */
    if (!clause.editDistance && star < 0) {
      return readShard(info, shardOf(info, word)).then(function () { return terms[word] ? [word] : []; });
    }
    var candidates;
    if (!clause.editDistance && star > 0) {
      var prefix = word.slice(0, star);
      var first = shardOf(info, prefix), last = shardOf(info, prefix + "\uffff");
      var reads = [];
      for (var n = first; n <= last; n++) reads.push(readShard(info, n));
      candidates = Promise.all(reads).then(function (shards) {
        var words = [];
        shards.forEach(function (rows) { rows.forEach(function (row) { words.push(row[0]); }); });
        return lunr.TokenSet.fromArray(words);
      });
    } else {
      if (!vocabulary) {
        vocabulary = file("terms.json").then(function (words) { return lunr.TokenSet.fromArray(words); });
        vocabulary.catch(function () { vocabulary = null; });
      }
      candidates = vocabulary;
    }
    return candidates.then(function (tokenSet) {
      var expanded = tokenSet.intersect(pattern).toArray();
      if (expanded.length > MAX_TERMS) {
        throw new Error("“" + word + "” stands for more than " + MAX_TERMS + " words; give more letters");
      }
      return Promise.all(expanded.map(function (term) {
        return terms[term] ? null : readShard(info, shardOf(info, term));
      })).then(function () { return expanded; });
    });
  }

  /* The query as lunr.js will run it: each clause's terms after expansion, the weight of each term
     in each field of the query vector, and what is required or excluded. */
  function plan(info, queryString) {
    var query = new lunr.Query(info.fields);
    new lunr.QueryParser(queryString, query).parse();
    var items = [];
    query.clauses.forEach(function (clause) {
      var words = clause.usePipeline ? pipeline.runString(clause.term, { fields: clause.fields }) : [clause.term];
      words.forEach(function (word) { items.push({ clause: clause, word: word }); });
    });
    return Promise.all(items.map(function (item) { return expand(info, item.clause, item.word); })).then(function (expansions) {
      var vectors = {}, scoring = new Map(), required = [], prohibited = [], impossible = false;
      info.fields.forEach(function (field) { vectors[field] = new Map(); });
      var requiredGroups = new Map();
      items.forEach(function (item, i) {
        var clause = item.clause, expanded = expansions[i];
        if (clause.presence === PRESENCE.REQUIRED) {
          if (!requiredGroups.has(clause)) { requiredGroups.set(clause, []); required.push(requiredGroups.get(clause)); }
          if (expanded.length === 0) impossible = true; /* lunr.js: a required term no paper has */
        }
        expanded.forEach(function (term) {
          var state = terms[term];
          var fields = clause.fields.map(function (field) { return info.fields.indexOf(field); });
          if (clause.presence === PRESENCE.PROHIBITED) { prohibited.push({ state: state, fields: fields }); return; }
          if (clause.presence === PRESENCE.REQUIRED) requiredGroups.get(clause).push({ state: state, fields: fields });
          if (!scoring.has(state)) scoring.set(state, info.fields.map(function () { return false; }));
          clause.fields.forEach(function (field) {
            scoring.get(state)[info.fields.indexOf(field)] = true;
            var vector = vectors[field];
            vector.set(state.number, (vector.get(state.number) || 0) + clause.boost);
          });
        });
      });
      var magnitudes = info.fields.map(function (field) {
        var sum = 0;
        vectors[field].forEach(function (value) { sum += value * value; });
        return Math.sqrt(sum);
      });
      var scoringTerms = Array.from(scoring.keys()).map(function (state) {
        var coefficients = info.fields.map(function (field, f) {
          var value = vectors[field].get(state.number) || 0;
          return value ? value / magnitudes[f] : 0;
        });
        return { state: state, coefficients: coefficients, scope: scoring.get(state), max: Math.max.apply(null, coefficients) };
      });
      /* A term that no paper has in the fields its clause looks at can neither match nor
         exclude anything, so its lists are not read (the query vector above still counts it,
         as lunr.js's does). */
      function inScope(t) { return t.fields.some(function (f) { return t.state.perField[f] > 0; }); }
      scoringTerms = scoringTerms.filter(function (t) {
        return t.scope.some(function (on, f) { return on && t.state.perField[f] > 0; });
      });
      prohibited = prohibited.filter(inScope);
      required = required.map(function (group) { return group.filter(inScope); });
      if (required.some(function (group) { return group.length === 0; })) impossible = true;
      var all = new Set();
      scoringTerms.forEach(function (t) { all.add(t.state); });
      prohibited.forEach(function (t) { all.add(t.state); });
      required.forEach(function (group) { group.forEach(function (t) { all.add(t.state); }); });
      return {
        query: queryString, negated: query.isNegated(), impossible: impossible, scoring: scoringTerms,
        required: required, prohibited: prohibited, states: Array.from(all), terms: expansions,
        simple: simpleCount(info, items, expansions, scoringTerms)
      };
    });
  }

  /* The exact number of matches when the query is one word that expands to one term, searched in
     all fields or in one (the shard counts papers per term and per field); else null. */
  function simpleCount(info, items, expansions, scoringTerms) {
    if (items.length !== 1 || expansions[0].length !== 1 || scoringTerms.length !== 1) return null;
    var fields = items[0].clause.fields, state = scoringTerms[0].state;
    if (fields.length === info.fields.length) return state.count;
    return fields.length === 1 ? state.perField[info.fields.indexOf(fields[0])] : null;
  }

  /* --- ranking ------------------------------------------------------------------------------- */

  /* What is known of paper: its score so far, how much more it could get, and whether it can be a
     result (true, false, or null while unknown). */
  function assess(p, paper) {
    var lower = 0, upper = 0, matched = false, unresolved = false;
    p.scoring.forEach(function (t) {
      var state = t.state;
      var weights = state.known.get(paper);
      if (weights) {
        for (var f = 0; f < 4; f++) {
          if (weights[f] && t.scope[f]) { lower += t.coefficients[f] * (weights[f] - 1) / 1000; matched = true; }
        }
      } else if (!resolved(state, paper)) {
        upper += t.max * state.theta;
        unresolved = true;
      }
    });
    var eligible = true;
    p.prohibited.forEach(function (t) {
      if (eligible === false) return;
      var found = has(t, paper);
      if (found !== false) eligible = found ? false : null;
    });
    p.required.forEach(function (group) {
      if (eligible === false) return;
      var found = group.map(function (t) { return has(t, paper); });
      if (found.indexOf(true) < 0) eligible = found.indexOf(null) < 0 ? false : null;
    });
    if (!unresolved && !matched) eligible = false;
    return { lower: lower, upper: lower + upper, eligible: eligible, exact: !unresolved && eligible !== null };
  }

  function unresolvedStates(p, paper) {
    return p.states.filter(function (state) { return !resolved(state, paper); });
  }

  /* Reads until the first `wanted` results are certain; returns the papers that can be among
     them, with exact scores, and how many papers are known to match (all of them once every list
     the query touches is read whole). */
  function rank(info, p, wanted) {
    var first = p.states.filter(function (state) { return !state.complete && state.chunksRead === 0; });
    return Promise.all(first.map(function (state) { return readChunk(state); })).then(function round() {
      var candidates = new Set();
      p.scoring.forEach(function (t) { t.state.known.forEach(function (weights, paper) { candidates.add(paper); }); });
      var exact = [], open = [];
      candidates.forEach(function (paper) {
        var a = assess(p, paper);
        if (a.eligible === false) return; /* can never be a result */
        if (a.exact) exact.push({ paper: paper, score: a.lower });
        else open.push({ paper: paper, lower: a.lower, upper: a.upper });
      });
      exact.sort(function (a, b) { return b.score - a.score; });
      var threshold = exact.length >= wanted ? exact[wanted - 1].score * (1 - EPSILON) - EPSILON : -Infinity;
      var unseen = 0, next = null;
      p.scoring.forEach(function (t) {
        if (t.state.complete) return;
        unseen += t.max * t.state.theta;
        if (!next || t.max * t.state.theta > next.max * next.state.theta) next = t;
      });
      var contenders = open.filter(function (c) { return c.upper >= threshold; });
      if ((next === null || unseen < threshold) && contenders.length === 0) {
        /* Only papers that can be among the first `wanted` (ties included) go to lunr.js. */
        var top = exact.filter(function (e) { return e.score >= threshold; });
        return { papers: top.map(function (e) { return e.paper; }), matches: exact.length };
      }
      var reads = [], chunks = new Set(), blocks = new Map();
      function readNext(state) {
        if (!state.complete && !chunks.has(state)) { chunks.add(state); reads.push(readChunk(state)); }
      }
      function lookUp(state, paper) {
        if (state.blockStarts === null) { readNext(state); return; } /* see readFor */
        var block = blockOf(state, paper);
        blocks.set(state.number + "." + block, [state, block]);
      }
      /* While an unseen paper could still rank, the lists go down side by side, as in the
         threshold algorithm: each list whose bound is within half of the largest. */
      if (next && unseen >= threshold) {
        p.scoring.forEach(function (t) {
          if (!t.state.complete && 2 * t.max * t.state.theta >= next.max * next.state.theta) readNext(t.state);
        });
      }
      /* Open papers that already beat the threshold, or are needed to fill the results, are
         looked up in paper-ordered blocks. */
      open.sort(function (a, b) { return b.lower - a.lower; });
      var missing = Math.max(0, wanted - exact.length), looked = new Set();
      open.forEach(function (c, i) {
        if (c.upper < threshold || !(c.lower >= threshold || i < missing) || looked.size >= BLOCKS_PER_ROUND) return;
        looked.add(c.paper);
        unresolvedStates(p, c.paper).forEach(function (state) { lookUp(state, c.paper); });
      });
      /* For the other open papers, per term they lack: a block each (BLOCK_BYTES), or the term's
         next chunk (ENTRY_BYTES an entry), which lowers what all of them could reach. */
      var lacking = new Map();
      contenders.forEach(function (c) {
        if (looked.has(c.paper)) return;
        unresolvedStates(p, c.paper).forEach(function (state) {
          if (!lacking.has(state)) lacking.set(state, []);
          lacking.get(state).push(c);
        });
      });
      lacking.forEach(function (papers, state) {
        var chunkBytes = state.complete || state.blockStarts === null ? 0 : nextChunkEntries(info, state) * ENTRY_BYTES;
        if (papers.length * BLOCK_BYTES > chunkBytes) { readNext(state); return; }
        papers.sort(function (a, b) { return b.upper - a.upper; });
        papers.slice(0, BLOCKS_PER_ROUND).forEach(function (c) { lookUp(state, c.paper); });
      });
      blocks.forEach(function (pair) { reads.push(readBlock(pair[0], pair[1])); });
      p.states.forEach(function (state) { if (state.chunksRead === 0) readNext(state); });
      if (reads.length === 0) throw new Error("search: no way forward for " + p.query);
      return Promise.all(reads).then(round);
    });
  }

  /* A lunr.Index holding just the given papers and the query's terms, with each term's original
     number: lunr.js then computes each of these papers' scores exactly as over the whole index. */
  function partialIndex(info, p, papers) {
    var invertedIndex = Object.create(null), vectors = {}, words = [];
    p.terms.forEach(function (expanded) {
      expanded.forEach(function (term) {
        if (invertedIndex[term]) return;
        var state = terms[term];
        var posting = { _index: state.number };
        info.fields.forEach(function (field) { posting[field] = {}; });
        papers.forEach(function (paper) {
          var weights = state.known.get(paper);
          if (!weights) return;
          info.fields.forEach(function (field, f) {
            if (!weights[f]) return;
            posting[field][paper] = {};
            var key = field + "/" + paper;
            (vectors[key] = vectors[key] || []).push([state.number, (weights[f] - 1) / 1000]);
          });
        });
        invertedIndex[term] = posting;
        words.push(term);
      });
    });
    var fieldVectors = {};
    Object.keys(vectors).forEach(function (key) {
      var elements = [];
      vectors[key].sort(function (a, b) { return a[0] - b[0]; }).forEach(function (pair) { elements.push(pair[0], pair[1]); });
      fieldVectors[key] = new lunr.Vector(elements);
    });
    words.sort();
    return new lunr.Index({
      invertedIndex: invertedIndex, fieldVectors: fieldVectors, tokenSet: lunr.TokenSet.fromArray(words),
      fields: info.fields, pipeline: pipeline
    });
  }

  /* A query of exclusions only: lunr.js returns every other paper, in paper order, scored 0. The
     papers are taken in order; where an excluded term's blocks have not been read for a paper,
     they are read (its first chunk first, for where the blocks start), then the scan goes on. */
  function negatedResults(info, p, wanted) {
    var results = [];
    function from(paper) {
      for (; paper < info.papers && results.length < wanted; paper++) {
        var found = p.prohibited.map(function (t) { return has(t, paper); });
        if (found.indexOf(null) >= 0) {
          var at = paper;
          return Promise.all(p.prohibited.map(function (t, i) {
            return found[i] === null ? readFor(t.state, at) : null;
          })).then(function () { return from(at); });
        }
        if (found.indexOf(true) < 0) results.push({ ref: String(paper), score: 0, matchData: new lunr.MatchData() });
      }
      return Promise.resolve(results);
    }
    return from(0);
  }

  function estimate(info, p) {
    var n = info.papers;
    var share = function (group) {
      return Math.min(1, group.reduce(function (sum, t) { return sum + t.state.count; }, 0) / n);
    };
    var fraction;
    if (p.required.length) {
      fraction = p.required.reduce(function (product, group) { return product * share(group); }, 1);
    } else if (p.scoring.length === 0) {
      fraction = 1; /* exclusions only: every other paper */
    } else {
      fraction = 1 - p.scoring.reduce(function (product, t) { return product * (1 - Math.min(1, t.state.count / n)); }, 1);
    }
    p.prohibited.forEach(function (t) {
      var count = t.fields.length === 1 ? t.state.perField[t.fields[0]] : t.state.count;
      fraction *= 1 - Math.min(1, count / n);
    });
    return Math.round(fraction * n);
  }

  /* The first `wanted` results of queryString, as lunr.js ranks them over the whole index, with
     the number of matches: exact, or estimated from the terms' paper counts (exact: false). */
  function search(queryString, wanted) {
    return meta().then(function (info) {
      return plan(info, queryString).then(function (p) {
        if (p.impossible) return { results: [], total: 0, exact: true };
        if (p.negated) {
          return negatedResults(info, p, wanted).then(function (results) {
            var complete = p.prohibited.every(function (t) { return t.state.complete; });
            if (!complete) return { results: results, total: estimate(info, p), exact: false };
            var excluded = new Set();
            p.prohibited.forEach(function (t) {
              t.state.known.forEach(function (weights, paper) { if (has(t, paper)) excluded.add(paper); });
            });
            return { results: results, total: info.papers - excluded.size, exact: true };
          });
        }
        return rank(info, p, wanted).then(function (ranked) {
          var results = partialIndex(info, p, ranked.papers).search(queryString);
          var complete = p.states.every(function (state) { return state.complete; });
          var total = complete ? ranked.matches : p.simple !== null ? p.simple : estimate(info, p);
          return { results: results.slice(0, wanted), total: total, exact: complete || p.simple !== null };
        });
      });
    });
  }

  /* What results display, for the given refs, in their order. The records are filed oldest
     first (paper 0 is the newest), so that adding papers leaves older files unchanged. */
  function documents(refs) {
    return meta().then(function (info) {
      return Promise.all(refs.map(function (ref) {
        var age = info.papers - 1 - Number(ref);
        return file("d/" + Math.floor(age / info.store) + ".json").then(function (chunk) { return chunk[age % info.store]; });
      }));
    });
  }

  return { search: search, documents: documents, meta: meta };
});
