/* sitegen search page: results as you type, 20 at a time. Ranking is lunr.js 2.3.9's over the whole
   index, computed by search-engine.js from just the parts of the index a query needs. */
(function () {
  "use strict";

  var PAGE_SIZE = 20;
  var DEBOUNCE_MS = 150;
  var SNIPPET_WORDS = 45;
  var FIELDS = ["title", "authors", "topics", "abstract"];

  var base = document.documentElement.getAttribute("data-base-path") || "/";
  var input = document.getElementById("search-q");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var more = document.getElementById("search-more");
  if (!input || !status || !list || !more) return;

  var engine = null;
  var loaded = false;
  var shown = 0;
  var lastQuery = null; /* the query whose results are on screen or on their way */
  var lastRaw = "";
  var timer = null;

  function fetchJSON(path) {
    return fetch(base + "search/" + path).then(function (response) {
      if (!response.ok) throw new Error(path + ": HTTP " + response.status);
      return response.json();
    });
  }

  function load() {
    if (!engine) engine = window.sitegenSearch(lunr, fetchJSON);
    return engine.meta().then(function () { loaded = true; });
  }

  /* Lunr's syntax stays (+, -, field:, *, ~1, ^10); punctuation around a word goes, as the
     index's trimmer removed it ("question?" finds "question"). */
  function normalise(query) {
    return query.split(/\s+/).map(function (word) {
      var match = /^([+-]?)(?:([A-Za-z]+):(?=.))?(.*?)((?:[~^]\d+)*)$/.exec(word);
      var field = match[2] ? match[2].toLowerCase() : "";
      var body = match[3];
      if (field && FIELDS.indexOf(field) < 0) {
        body = match[2] + " " + body; /* not a field: both are words */
        field = "";
      }
      /* Lunr's operators inside a word ("e^x", "1:2") would be read as syntax: they separate words. */
      body = body.replace(/[:~^]+/g, " ").replace(/^[^\w*]+|[^\w*]+$/g, "").trim();
      if (body.indexOf(" ") >= 0) body = body.split(/\s+/).join(" " + match[1] + (field ? field + ":" : ""));
      /* Edit distances above 2 make lunr.js expand millions of strings and freeze the tab. */
      var suffix = match[4].replace(/~(\d+)/, function (all, n) { return "~" + Math.min(Number(n), 2); });
      return body ? match[1] + (field ? field + ":" : "") + body + suffix : "";
    }).filter(Boolean).join(" ");
  }

  function termOf(word) {
    var token = new lunr.Token(word.toLowerCase().replace(/^\W+/, "").replace(/\W+$/, ""), {});
    return lunr.stemmer(token).toString();
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function snippet(text, terms) {
    var words = text.split(/(\s+)/);
    var first = -1;
    var marks = words.map(function (word, position) {
      var hit = !/^\s*$/.test(word) && terms[termOf(word)] === true;
      if (hit && first < 0) first = position;
      return hit;
    });
    var start = Math.max(0, first - 12);
    var end = Math.min(words.length, start + SNIPPET_WORDS * 2);
    var paragraph = element("p", "snippet");
    if (start > 0) paragraph.appendChild(document.createTextNode("… "));
    for (var i = start; i < end; i++) {
      paragraph.appendChild(marks[i] ? element("mark", "", words[i]) : document.createTextNode(words[i]));
    }
    if (end < words.length) paragraph.appendChild(document.createTextNode(" …"));
    return paragraph;
  }

  function card(result, doc) {
    var terms = {};
    Object.keys(result.matchData.metadata).forEach(function (term) { terms[term] = true; });
    var item = element("li");
    var article = element("article", "card");
    var heading = element("h2", "card-title");
    var link = element("a", "", doc[1]);
    link.href = base + doc[0];
    heading.appendChild(link);
    article.appendChild(heading);
    if (doc[2]) article.appendChild(element("div", "byline", doc[2]));
    var meta = element("p", "meta");
    var time = element("time", "", doc[3]);
    time.setAttribute("datetime", doc[3]);
    meta.appendChild(time);
    article.appendChild(meta);
    if (doc[4].length) {
      var topics = element("ul", "topics");
      doc[4].forEach(function (name) { topics.appendChild(element("li", "", name)); });
      article.appendChild(topics);
    }
    article.appendChild(snippet(doc[5], terms));
    item.appendChild(article);
    return item;
  }

  function describe(answer, raw) {
    if (answer.total === 0 || answer.results.length === 0) return "No papers match “" + raw + "”.";
    var count = answer.total.toLocaleString("en");
    var noun = answer.total === 1 ? " paper matches “" : " papers match “";
    return (answer.exact ? count : "About " + count) + noun + raw + "”.";
  }

  /* Asks the engine for the first `wanted` results of query and shows those not yet shown. */
  function show(query, raw, wanted, focusFirst) {
    return engine.search(query, wanted).then(function (answer) {
      var refs = answer.results.slice(shown).map(function (result) { return result.ref; });
      return engine.documents(refs).then(function (docs) {
        if (lastQuery !== query) return; /* the reader has typed something else meanwhile */
        status.textContent = describe(answer, raw);
        var firstNew = null;
        answer.results.slice(shown).forEach(function (result, i) {
          var item = card(result, docs[i]);
          firstNew = firstNew || item.querySelector("a");
          list.appendChild(item);
        });
        shown = answer.results.length;
        more.hidden = answer.results.length < wanted || (answer.exact && shown >= answer.total);
        if (focusFirst && firstNew) firstNew.focus();
      });
    });
  }

  function fail(error) {
    status.textContent = error && error.name === "QueryParseError"
      ? "That query cannot be understood: " + error.message
      : "Search failed: " + (error && error.message) + ".";
  }

  function run(raw) {
    var query = normalise(raw);
    if (query === lastQuery) return;
    lastQuery = query;
    lastRaw = raw.trim();
    var url = query ? "?q=" + encodeURIComponent(lastRaw) : location.pathname;
    history.replaceState(null, "", url);
    list.textContent = "";
    shown = 0;
    more.hidden = true;
    if (!query) {
      status.textContent = "";
      return;
    }
    show(query, lastRaw, PAGE_SIZE, false).catch(function (error) {
      if (lastQuery === query) fail(error);
    });
  }

  function search(raw) {
    if (!loaded) status.textContent = "Loading the search index…";
    load().then(function () { run(raw); }, function (error) {
      status.textContent = "The search index could not be loaded (" + error.message + ").";
    });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { search(input.value); }, DEBOUNCE_MS);
  });
  document.getElementById("search-form").addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(timer);
    search(input.value);
  });
  more.addEventListener("click", function () {
    more.disabled = true;
    show(lastQuery, lastRaw, shown + PAGE_SIZE, true).catch(fail).then(function () { more.disabled = false; });
  });

  var initial = new URLSearchParams(location.search).get("q") || "";
  input.value = initial;
  var header = document.getElementById("site-search-q");
  if (header) header.value = initial;
  if (initial) search(initial); else load();
  input.focus();
})();
