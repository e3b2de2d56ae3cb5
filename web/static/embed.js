/* Byline embed page: a compact chat calling this server's /api (relative URLs, so it
   works under a reverse-proxy sub-path). Article text is only ever inserted with
   textContent: markup inside an article never renders or runs. */
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var token = params.get("token") || "";
  var history = [];          // [[question, answer text], ...]
  var busy = false;
  var controller = null;
  var $ = function (id) { return document.getElementById(id); };
  var log = $("log"), form = $("ask"), input = $("question"), send = $("send");

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

  function citeButton(label, articleId, start, end) {
    var b = el("button", "cite", label);
    b.type = "button";
    b.setAttribute("data-article", articleId);
    b.setAttribute("data-start", String(start));
    b.setAttribute("data-end", String(end));
    b.addEventListener("click", function () { openSource(articleId, start, end); });
    return b;
  }

  function renderAnswer(box, a) {
    box.textContent = "";
    box.classList.remove("streaming");
    var status = a.status || (a.abstained ? "abstained" : "answered");
    if (status === "abstained" && a.reader === "small-talk") {
      box.appendChild(el("p", "sentence", a.text));
      return;
    }
    if (status === "uncertain" && a.citations && a.citations[0]) {
      var c0 = a.citations[0];
      box.classList.add("uncertain");
      box.appendChild(el("p", "sentence", "Uncertain: the archive may say"));
      var quote = c0.quote.replace(/\s+/g, " ").trim(), at = a.answer ? quote.indexOf(a.answer) : -1;
      var ps = el("p", "sentence", "\u201c" + (at >= 0 ? quote.slice(0, at) : quote));
      if (at >= 0) {
        ps.appendChild(el("mark", "", a.answer));
        ps.appendChild(document.createTextNode(quote.slice(at + a.answer.length)));
      }
      ps.appendChild(document.createTextNode("\u201d "));
      ps.appendChild(citeButton("[" + c0.n + "]", c0.article_id, c0.start, c0.end));
      box.appendChild(ps);
      return;
    }
    if (status === "abstained") {
      box.classList.add("abstain");
      box.appendChild(el("p", "short", "No answer: the articles do not say."));
      var seen = {}, closest = [];
      (a.passages || []).forEach(function (p) {
        if (!seen[p.article_id] && closest.length < 3) { seen[p.article_id] = 1; closest.push(p); }
      });
      if (closest.length) {
        box.appendChild(el("p", "sentence", "Closest articles:"));
        var ul = el("ul", "cites");
        closest.forEach(function (p) {
          var li = el("li"); li.appendChild(citeButton(p.title || p.article_id, p.article_id, p.start, p.end));
          ul.appendChild(li);
        });
        box.appendChild(ul);
      }
      return;
    }
    box.appendChild(el("p", "short", a.answer));
    var first = a.citations[0];
    if (first) {
      var s = el("p", "sentence", "\u201c" + first.quote.replace(/\s+/g, " ").trim() + "\u201d ");
      s.appendChild(citeButton("[" + first.n + "]", first.article_id, first.start, first.end));
      box.appendChild(s);
    }
    var ol = el("ol", "cites");
    a.citations.forEach(function (c) {
      var li = el("li");
      li.appendChild(citeButton("[" + c.n + "] " + (c.title || c.article_id), c.article_id, c.start, c.end));
      if (c.n > 1) {
        var q = c.quote.replace(/\s+/g, " ").trim();
        li.appendChild(el("span", "snippet", "\u201c" + (q.length > 90 ? q.slice(0, 89) + "\u2026" : q) + "\u201d"));
      }
      ol.appendChild(li);
    });
    box.appendChild(ol);
  }

  function showError(box, message) {
    box.textContent = message;
    box.classList.add("error");
    box.classList.remove("streaming");
  }

  async function ask(question) {
    busy = true; send.disabled = true;
    var hint = $("hint"); if (hint) hint.remove();
    log.appendChild(el("div", "msg user", question));
    var box = el("div", "msg bot streaming", "\u2026");
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
          if (ev === "delta") { text += payload.text; box.textContent = text; scrollDown(); }
          else if (ev === "answer") { answer = payload; }
          else if (ev === "error") { showError(box, payload.error); }
        });
      }
      if (answer) {
        renderAnswer(box, answer);
        history.push([question, answer.text]);
      }
    } catch (e) {
      if (e.name !== "AbortError") showError(box, "Could not reach the server.");
    } finally {
      busy = false; send.disabled = false; controller = null; scrollDown();
    }
  }

  async function openSource(articleId, start, end) {
    var panel = $("source"), title = $("source-title"), meta = $("source-meta"), body = $("source-text");
    title.textContent = "Loading\u2026"; meta.textContent = ""; body.textContent = "";
    panel.hidden = false;
    try {
      var resp = await fetch(articlePath(articleId), { headers: headers() });
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
      var cps = Array.from(text);
      if (start >= 0 && end > start && end <= cps.length) {
        body.appendChild(document.createTextNode(cps.slice(0, start).join("")));
        var mark = el("mark", null, cps.slice(start, end).join(""));
        mark.id = "hl";
        body.appendChild(mark);
        body.appendChild(document.createTextNode(cps.slice(end).join("")));
        mark.scrollIntoView({ block: "center" });
      } else {
        body.textContent = text;
      }
    } catch (e) {
      title.textContent = "Could not load the article.";
    }
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
  $("back").addEventListener("click", function () { $("source").hidden = true; input.focus(); });
  $("new-chat").addEventListener("click", function () {
    if (controller) controller.abort();
    history = [];
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
      if (!$("source").hidden) $("source").hidden = true;
      else if (window.parent !== window) window.parent.postMessage({ type: "byline:close" }, "*");
    }
  });
  if (window.parent === window) $("close").hidden = true;
  input.focus();
})();
