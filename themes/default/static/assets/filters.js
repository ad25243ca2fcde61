/* sitegen personal filters: highlight the papers of a listing page that match the reader's
   keywords or authors, hide those with excluded words. Kept in localStorage ("sitegen-filters")
   on this device; the page is complete without this script. Rules: docs/theme.md. */
(function () {
  "use strict";

  var KEY = "sitegen-filters";
  var FIELDS = ["keywords", "authors", "exclude"];
  var DEBOUNCE_MS = 300;

  var panel = document.getElementById("filters");
  var items = document.querySelectorAll("ol.papers > li");
  if (!panel || !items.length || !String.prototype.normalize) return;
  try {
    new RegExp("\\p{L}", "u");
  } catch (e) {
    return; /* a browser without Unicode classes in regular expressions: no filters */
  }

  var form = panel.querySelector("form");
  var inputs = {};
  FIELDS.forEach(function (name) { inputs[name] = form.elements[name]; });
  var status = document.getElementById("filter-status");
  var show = document.getElementById("filter-show");
  var clear = document.getElementById("filter-clear");
  var showExcluded = false;
  var timer = null;

  /* Letters that Unicode does not decompose into a base letter and an accent. */
  var LETTERS = { "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i" };

  /* Case, accents, ligatures and runs of spaces do not count: "Veličković" is "velickovic". */
  function fold(text) {
    return text.normalize("NFKD").replace(/\p{M}+/gu, "").toLowerCase()
      .replace(/[ßæœøłđðþı]/g, function (c) { return LETTERS[c]; })
      .replace(/\s+/g, " ").trim();
  }

  function terms(value) {
    return value.split(",").map(function (term) { return term.replace(/\s+/g, " ").trim(); })
      .filter(Boolean);
  }

  /* A term's words must start words of the text, in order, with only spaces or punctuation
     between them: "lora" finds "LoRA" and "LoRAs" but not "explorations"; "language model"
     finds "Language Models" and "language-modelling". */
  function wordMatcher(term) {
    var words = fold(term).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    if (!words.length) return null;
    var pattern = new RegExp("(?:^|[^\\p{L}\\p{N}])" + words.join("[\\p{L}\\p{N}]*[^\\p{L}\\p{N}]+"), "u");
    return { label: term, test: function (text) { return pattern.test(text); } };
  }

  function nameMatcher(name) {
    var folded = fold(name);
    return { label: name, test: function (authors) { return authors.indexOf(folded) >= 0; } };
  }

  function matchers(value, make) {
    return terms(value).map(make).filter(Boolean);
  }

  /* Text nodes under `element`, outside any <summary> (the "+4 more" and "more" toggles). */
  function texts(element) {
    var found = [];
    if (!element) return found;
    var walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT, null);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!(node.parentElement && node.parentElement.closest("summary"))) found.push(node.data);
    }
    return found;
  }

  function readCard(item) {
    var card = item.querySelector("article.card") || item;
    var title = card.querySelector(".card-title");
    var tldr = card.querySelector(".tldr");
    var abstract = card.querySelector("details.abstract");
    var words = [title && title.textContent, tldr && tldr.textContent].concat(texts(abstract));
    var authors = [];
    texts(card.querySelector(".byline")).forEach(function (chunk) {
      chunk.split(",").forEach(function (name) {
        name = fold(name);
        if (name) authors.push(name);
      });
    });
    return { item: item, card: card, title: title, text: fold(words.filter(Boolean).join(" \n ")), authors: authors, note: null };
  }

  var cards = Array.prototype.map.call(items, readCard);

  function values() {
    var result = {};
    FIELDS.forEach(function (name) { result[name] = inputs[name].value; });
    return result;
  }

  function load() {
    var saved = null;
    try {
      saved = JSON.parse(localStorage.getItem(KEY) || "null");
    } catch (e) { /* storage refused or damaged: start empty */ }
    FIELDS.forEach(function (name) {
      inputs[name].value = saved && typeof saved[name] === "string" ? saved[name] : "";
    });
  }

  function save() {
    var current = values();
    try {
      if (FIELDS.some(function (name) { return current[name].trim(); })) localStorage.setItem(KEY, JSON.stringify(current));
      else localStorage.removeItem(KEY);
    } catch (e) { /* private mode or full storage: the filters last for this page only */ }
  }

  function setNote(card, text) {
    if (!text) {
      if (card.note) card.note.hidden = true;
      return;
    }
    if (!card.note) {
      card.note = document.createElement("p");
      card.note.className = "filter-note";
      if (card.title) card.title.insertAdjacentElement("afterend", card.note);
      else card.card.insertBefore(card.note, card.card.firstChild);
    }
    card.note.textContent = text;
    card.note.hidden = false;
  }

  function papers(count) {
    return count + (count === 1 ? " paper" : " papers");
  }

  function apply() {
    var current = values();
    var keywords = matchers(current.keywords, wordMatcher);
    var authors = matchers(current.authors, nameMatcher);
    var excluded = matchers(current.exclude, wordMatcher);
    /* Counted by paper, not by card: a paper can be listed twice on a page (trending's 7 and 30 days). */
    var matchedPapers = {};
    var hiddenPapers = {};
    cards.forEach(function (card, position) {
      function hits(list, subject) {
        return list.filter(function (m) { return m.test(subject); }).map(function (m) { return m.label; });
      }
      var words = hits(keywords, card.text);
      var names = hits(authors, card.authors);
      var outs = hits(excluded, card.text);
      var why = [];
      if (words.length) why.push("Matches your keywords: " + words.join(", "));
      if (names.length) why.push("By your authors: " + names.join(", "));
      if (outs.length) why.push("Hidden by your filters: " + outs.join(", "));
      setNote(card, why.join(". "));
      card.card.classList.toggle("card--match", words.length + names.length > 0);
      card.card.classList.toggle("card--excluded", outs.length > 0);
      card.item.hidden = outs.length > 0 && !showExcluded;
      var link = card.title && card.title.querySelector("a");
      var paper = link ? link.getAttribute("href") : String(position);
      if (outs.length) hiddenPapers[paper] = true;
      else if (words.length || names.length) matchedPapers[paper] = true;
    });
    var matched = Object.keys(matchedPapers).length;
    var hidden = Object.keys(hiddenPapers).length;
    var parts = [];
    if (keywords.length || authors.length) parts.push(matched ? papers(matched) + " highlighted" : "No paper highlighted");
    if (hidden) parts.push(papers(hidden) + " hidden by your filters" + (showExcluded ? ", shown anyway" : ""));
    status.textContent = parts.join(" · "); /* a live region: it stays in the page, empty or not */
    show.hidden = !hidden;
    show.textContent = showExcluded ? "Hide them" : "Show them";
    panel.classList.toggle("filters--active", parts.length > 0);
  }

  function changed() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      apply();
      save();
    }, DEBOUNCE_MS);
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", function () {
    clearTimeout(timer);
    apply();
    save();
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(timer);
    apply();
    save();
  });
  clear.addEventListener("click", function () {
    clearTimeout(timer);
    FIELDS.forEach(function (name) { inputs[name].value = ""; });
    showExcluded = false;
    save();
    apply();
    inputs.keywords.focus();
  });
  show.addEventListener("click", function () {
    showExcluded = !showExcluded;
    apply();
  });
  /* Filters changed in another tab, or this page came back from the back-forward cache. */
  window.addEventListener("storage", function (event) {
    if (event.key === KEY || event.key === null) {
      load();
      apply();
    }
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      load();
      apply();
    }
  });

  load();
  apply();
  panel.hidden = false;
})();
