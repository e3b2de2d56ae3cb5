/* Byline embed page: a compact chat calling this server's /api (relative URLs, so it
   works under a reverse-proxy sub-path). Article text is only ever inserted with
   textContent: markup inside an article never renders or runs. Mirrors the chat's
   presentation (web/present.py): the answer marked inside its quoted sentence, one
   source entry per article, three outcomes, closest articles opened at their best
   sentence. */
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var token = params.get("token") || "";
  var color = params.get("color") || "";
  var history = [];          // [[question, answer text], ...]
  var topic = "";            // the Claims view's query: the last question (standalone form)
  var busy = false;
  var controller = null;
  var metaCache = {};
  var $ = function (id) { return document.getElementById(id); };
  var log = $("log"), form = $("ask"), input = $("question"), send = $("send");
  var BOILERPLATE = /^\s*(related|read more|see also|more from|advertisement|sign up|subscribe|click here|share this|follow us)\b/i;
  var STOP = {};
  ("a an the of in on at to for from by with and or but is are was were be been being do does did has have had how many " +
   "much what which who whom whose when where why that this these those it its as than then there their they he she his " +
   "her i you we our about according said says say tell me").split(" ").forEach(function (w) { STOP[w] = 1; });

  if (/^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/.test(color)) {
    // The host page's colour on the header and the Ask button, with readable text on it.
    var hex = color.length === 4 ? color.replace(/[0-9a-f]/gi, "$&$&").slice(1) : color.slice(1);
    var lum = [0, 2, 4].map(function (i) {
      var v = parseInt(hex.slice(i, i + 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    var light = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2] > 0.179;
    document.documentElement.style.setProperty("--brand", color);
    document.documentElement.style.setProperty("--brand-ink", light ? "#111111" : "#ffffff");
  }

  function headers() {
    var h = { "Content-Type": "application/json", "Accept": "text/event-stream, application/json" };
    if (token) h["Authorization"] = "Bearer " + token;
    return h;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function articlePath(id) { return "api/articles/" + id.split("/").map(encodeURIComponent).join("/"); }
  function oneLine(s) { return String(s || "").replace(/\s+/g, " "); }

  function citeButton(label, target) {
    var b = el("button", "cite", label);
    b.type = "button";
    b.setAttribute("data-article", target.article_id);
    b.setAttribute("data-start", String(target.start));
    b.setAttribute("data-end", String(target.end));
    b.addEventListener("click", function () { openSource(target); });
    return b;
  }

  /* The answer inside its quote: [start, end) in quote, or null. */
  function answerIn(quote, answer) {
    if (!answer || !quote) return null;
    var at = quote.indexOf(answer);
    if (at >= 0) return [at, at + answer.length];
    var words = answer.split(/\s+/).filter(Boolean).map(function (w) { return w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); });
    var m = words.length ? new RegExp(words.join("\\s+"), "i").exec(quote) : null;
    return m ? [m.index, m.index + m[0].length] : null;
  }

  /* A paragraph with the quote in curly quotes (never doubled), the answer marked. */
  function quoteEl(cls, quote, span) {
    var parts = span ? [quote.slice(0, span[0]), quote.slice(span[0], span[1]), quote.slice(span[1])] : [quote, "", ""];
    parts = parts.map(oneLine);
    parts[0] = parts[0].replace(/^\s+/, "");
    if (parts[1]) parts[2] = parts[2].replace(/\s+$/, ""); else parts[0] = parts[0].replace(/\s+$/, "");
    var whole = parts.join("");
    var p = el("blockquote", cls);
    p.appendChild(document.createTextNode((/^[“"]/.test(whole) ? "" : "\u201c") + parts[0]));
    if (parts[1]) p.appendChild(el("mark", "byline-answer", parts[1]));
    p.appendChild(document.createTextNode(parts[2] + (/[”"]$/.test(whole) ? "" : "\u201d") + " "));
    return p;
  }

  /* The citations that support the answer ([1] and those the reply refers to outside
     "See also"), each with the answer span it quotes (article offsets). */
  function supporting(a) {
    var cites = a.citations || [];
    var text = String(a.text || "").replace(/\s*See also (\[\d+\](, )?)+\.?/g, " ");
    var referred = {}, others = {}, m, re = /\[(\d+)\]/g, ro = /another figure is given: (.+?) \[(\d+)\]/g;
    while ((m = re.exec(text))) referred[m[1]] = 1;
    while ((m = ro.exec(String(a.text || "")))) others[m[2]] = m[1];
    var out = [];
    cites.forEach(function (c, i) {
      if (i && (!referred[c.n] || BOILERPLATE.test(c.quote))) return;
      var said = i === 0 ? a.answer : others[c.n];
      var rel = answerIn(c.quote, said);
      out.push({ n: c.n, article_id: c.article_id, title: c.title, start: c.start, end: c.end, quote: c.quote,
                 rel: rel, figure: i ? (others[c.n] || "") : "",
                 answer: rel ? [c.start + rel[0], c.start + rel[1]] : null });
    });
    return out;
  }

  function fillMeta(span, articleId) {
    var show = function (m) { span.textContent = [m.source, m.published].filter(Boolean).join(", "); };
    if (metaCache[articleId]) { metaCache[articleId].then(show, function () {}); return; }
    metaCache[articleId] = fetch(articlePath(articleId), { headers: headers() }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    });
    metaCache[articleId].then(show, function () {});
  }

  function sourcesEl(cited) {
    var order = [], by = {};
    cited.forEach(function (c) {
      if (!by[c.article_id]) { by[c.article_id] = { title: c.title, cites: [] }; order.push(c.article_id); }
      by[c.article_id].cites.push(c);
    });
    var box = el("div", "sources");
    box.appendChild(el("p", "sources-label", order.length > 1 ? "Sources" : "Source"));
    var ul = el("ul", "cites");
    order.forEach(function (id) {
      var li = el("li");
      by[id].cites.forEach(function (c) { li.appendChild(citeButton("[" + c.n + "]", c)); li.appendChild(document.createTextNode(" ")); });
      li.appendChild(el("span", "source-name", by[id].title || id));
      var where = el("span", "where");
      li.appendChild(document.createTextNode(" "));
      li.appendChild(where);
      fillMeta(where, id);
      ul.appendChild(li);
    });
    box.appendChild(ul);
    return box;
  }

  function quoteBlock(c) {
    var q = quoteEl("sentence", c.quote, c.rel);
    q.appendChild(citeButton("[" + c.n + "]", c));
    return q;
  }

  function renderAnswer(box, a) {
    box.textContent = "";
    box.classList.remove("streaming");
    box.removeAttribute("aria-busy");
    var status = a.status || (a.abstained ? "abstained" : "answered");
    box.setAttribute("data-status", status);
    if (status === "abstained" && a.reader === "small-talk") {
      box.appendChild(el("p", "sentence", a.text));
      return;
    }
    if (status === "abstained") {
      box.classList.add("abstain");
      box.appendChild(el("p", "abstain-label", "The articles do not say."));
      var seen = {}, closest = [];
      (a.passages || []).forEach(function (p) {
        if (!seen[p.article_id] && closest.length < 3) { seen[p.article_id] = 1; closest.push(p); }
      });
      if (closest.length) {
        box.appendChild(el("p", "closest-label", "Closest articles:"));
        var ul = el("ul", "cites closest");
        var question = a.standalone_question || a.question || "";
        closest.forEach(function (p) {
          var li = el("li");
          li.appendChild(citeButton(p.title || p.article_id, { article_id: p.article_id, start: p.start, end: p.end,
                                                               best: question }));
          ul.appendChild(li);
        });
        box.appendChild(ul);
      } else {
        box.appendChild(el("p", "sentence", "The archive holds no article that matches this question."));
      }
      return;
    }
    var cited = supporting(a);
    if (status === "uncertain") {
      box.classList.add("uncertain");
      var label = el("p", "uncertain-label");
      label.appendChild(el("span", "badge", "Uncertain"));
      label.appendChild(document.createTextNode(" The archive may say:"));
      box.appendChild(label);
      if (cited[0]) { box.appendChild(quoteBlock(cited[0])); box.appendChild(sourcesEl(cited.slice(0, 1))); }
      box.appendChild(el("p", "hint", "Check the cited sentence: the reader is not sure it answers the question."));
      return;
    }
    box.appendChild(el("p", "short", a.answer));
    cited.forEach(function (c, i) {
      if (i && c.figure) box.appendChild(el("p", "other", "Another figure is given: " + c.figure));
      box.appendChild(quoteBlock(c));
    });
    if (cited.length) box.appendChild(sourcesEl(cited));
  }

  function showError(box, message) {
    box.textContent = message;
    box.classList.add("error");
    box.classList.remove("streaming");
    box.removeAttribute("aria-busy");
  }

  async function ask(question) {
    busy = true; send.disabled = true;
    var hint = $("hint"); if (hint) hint.remove();
    topic = question;
    log.appendChild(el("div", "msg user", question));
    var box = el("div", "msg bot streaming");
    box.setAttribute("aria-busy", "true");
    box.appendChild(el("span", "spinner"));
    box.appendChild(document.createTextNode("Searching the archive\u2026"));
    log.appendChild(box); scrollDown();
    controller = new AbortController();
    var text = "", answer = null;
    try {
      var resp = await fetch("api/ask/stream", {
        method: "POST", headers: headers(), signal: controller.signal,
        body: JSON.stringify({ question: question, history: history })
      });
      if (!resp.ok) {
        var err = {};
        try { err = await resp.json(); } catch (e) { /* not JSON */ }
        showError(box, err.error || ("Error " + resp.status));
        return;
      }
      var reader = resp.body.getReader(), decoder = new TextDecoder(), buf = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buf += decoder.decode(chunk.value, { stream: true });
        var frames = buf.split("\n\n"); buf = frames.pop();
        frames.forEach(function (frame) {
          var ev = "message", data = "";
          frame.split("\n").forEach(function (line) {
            if (line.indexOf("event:") === 0) ev = line.slice(6).trim();
            else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
          });
          if (!data) return;
          var payload = JSON.parse(data);
          if (ev === "delta") {
            text += payload.text;
            // An LLM's unverified text is a draft until the answer event replaces it.
            box.textContent = payload.draft ? "Draft, being checked against the articles: " + text : text;
            box.classList.toggle("byline-draft", !!payload.draft);
            scrollDown();
          }
          else if (ev === "answer") { answer = payload; }
          else if (ev === "error") { showError(box, payload.error); }
        });
      }
      if (answer) {
        renderAnswer(box, answer);
        topic = answer.standalone_question || question;
        history.push([question, answer.text]);
      }
    } catch (e) {
      if (e.name !== "AbortError") showError(box, "Could not reach the server.");
    } finally {
      busy = false; send.disabled = false; controller = null; scrollDown();
    }
  }

  function words(s) {
    var out = {};
    (String(s).toLowerCase().match(/[\p{L}\p{N}]+(?:[’'.,][\p{L}\p{N}]+)*/gu) || []).forEach(function (w) {
      if (!STOP[w] && w.length > 1) out[w] = 1;
    });
    return out;
  }
  /* The sentence of cps[start:end] sharing most words with the question (cps: code points). */
  function bestSentence(cps, start, end, question) {
    var want = words(question), best = null, bestScore = -1;
    var text = cps.slice(start, end).join(""), re = /[^.!?…\n]+(?:[.!?…]+["”’')\]]*|\n|$)/g, m;
    while ((m = re.exec(text))) {
      if (!m[0].trim()) { if (m[0] === "") re.lastIndex++; continue; }
      var s = Array.from(text.slice(0, m.index)).length, sentence = m[0];
      var lead = sentence.length - sentence.replace(/^\s+/, "").length;
      sentence = sentence.trim();
      var score = 0, got = words(sentence);
      for (var w in got) if (want[w]) score++;
      if (BOILERPLATE.test(sentence)) score -= 100;
      if (score > bestScore) {
        var st = start + s + Array.from(m[0].slice(0, lead)).length;
        best = [st, st + Array.from(sentence).length]; bestScore = score;
      }
    }
    return best || [start, end];
  }

  async function openSource(target) {
    var panel = $("source"), title = $("source-title"), meta = $("source-meta"), body = $("source-text");
    title.textContent = "Loading\u2026"; meta.textContent = ""; body.textContent = "";
    panel.hidden = false;
    $("back").focus();
    try {
      var resp = await fetch(articlePath(target.article_id), { headers: headers() });
      var a = await resp.json();
      if (!resp.ok) { title.textContent = a.error || ("Error " + resp.status); return; }
      title.textContent = a.title || a.id;
      [a.source, a.published].filter(Boolean).forEach(function (x, i) {
        if (i) meta.appendChild(document.createTextNode(" \u00b7 "));
        meta.appendChild(document.createTextNode(x));
      });
      if (/^https?:\/\//i.test(a.url || "")) {
        if (meta.childNodes.length) meta.appendChild(document.createTextNode(" \u00b7 "));
        var link = el("a", null, "Original article");
        link.href = a.url; link.target = "_blank"; link.rel = "noopener noreferrer";
        meta.appendChild(link);
      }
      var text = a.text || "";
      // Offsets count Unicode code points (Python str indices); JS strings count UTF-16
      // units, so an emoji before the span would shift a plain slice.
      var cps = Array.from(text), start = target.start, end = target.end, ans = target.answer;
      if (start >= 0 && end > start && end <= cps.length) {
        if (target.best !== undefined) { var b = bestSentence(cps, start, end, target.best); start = b[0]; end = b[1]; }
        body.appendChild(document.createTextNode(cps.slice(0, start).join("")));
        var mark = el("mark", "hl");
        mark.id = "hl";
        if (ans && ans[0] >= start && ans[1] <= end && ans[0] < ans[1]) {
          mark.appendChild(document.createTextNode(cps.slice(start, ans[0]).join("")));
          mark.appendChild(el("mark", "byline-answer", cps.slice(ans[0], ans[1]).join("")));
          mark.appendChild(document.createTextNode(cps.slice(ans[1], end).join("")));
        } else {
          mark.textContent = cps.slice(start, end).join("");
        }
        body.appendChild(mark);
        body.appendChild(document.createTextNode(cps.slice(end).join("")));
        (mark.querySelector("mark") || mark).scrollIntoView({ block: "center" });
      } else {
        body.textContent = text;
      }
    } catch (e) {
      title.textContent = "Could not load the article.";
    }
  }

  function closeSource() {
    $("source").hidden = true;
    input.focus();
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = input.value.trim();
    if (!q || busy) return;
    input.value = "";
    ask(q);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });
  $("back").addEventListener("click", closeSource);
  $("new-chat").addEventListener("click", function () {
    if (controller) controller.abort();
    history = []; topic = "";
    log.textContent = "";
    log.appendChild(el("p", "hint", "New conversation. Ask a question about the news archive."));
    $("source").hidden = true;
    input.focus();
  });
  $("close").addEventListener("click", function () {
    if (window.parent !== window) window.parent.postMessage({ type: "byline:close" }, "*");
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      if (!$("source").hidden) closeSource();
      else if (window.BylineClaims && window.BylineClaims.close()) { /* the Claims view closed */ }
      else if (window.parent !== window) window.parent.postMessage({ type: "byline:close" }, "*");
    }
  });
  if (window.parent === window) $("close").hidden = true;
  // For the Claims view (embed-claims.js): the same source view, requests and elements.
  window.BylineEmbed = { openSource: openSource, headers: headers, el: el, topic: function () { return topic; } };
  // The load handshake: the widget shows an explanation when this never arrives (the
  // browser refused to frame the page, or the server is down).
  if (window.parent !== window) window.parent.postMessage({ type: "byline:ready" }, "*");
  input.focus();
})();
