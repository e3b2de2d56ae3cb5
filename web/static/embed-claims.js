/* Byline embed page, the Claims view: who said, estimated or warned what about the
   current question's topic (GET api/claims?q=...). Claims about one quantity are boxed
   together and flagged when their figures differ; a click on a claim opens its article
   in the page's source view (embed.js's openSource) with the claim's content
   highlighted. Everything from an article is inserted with textContent only. */
(function () {
  "use strict";
  var B = window.BylineEmbed;
  if (!B) return;
  var $ = function (id) { return document.getElementById(id); };
  var view = $("claims"), body = $("claims-body"), openBtn = $("claims-open"), back = $("back");
  var BACK_TO_ANSWER = back.textContent, lastClaim = null;

  function notice(text) {
    body.textContent = "";
    body.appendChild(B.el("p", "claims-empty", text));
  }

  function figuresDiffer(group) {  // set once by the server (retrieval.claims.group_claims)
    return group.some(function (c) { return c.figures_differ === true; });
  }

  function claimEl(c) {
    var cite = c.citation || {};
    var b = B.el("button", "claim");
    b.type = "button";
    b.title = "Open the article with this claim highlighted";
    b.setAttribute("data-article", cite.article_id || "");
    b.appendChild(B.el("span", "claim-speaker", c.speaker || "Unnamed source"));
    if (c.role) b.appendChild(B.el("span", "claim-role", ", " + c.role));
    b.appendChild(document.createTextNode(" "));
    b.appendChild(B.el("span", "claim-cue", c.cue || ""));
    b.appendChild(B.el("span", "claim-content", "\u201c" + String(c.content || "").replace(/\s+/g, " ") + "\u201d"));
    var figs = (c.figures || []).filter(function (f) { return f.text; });
    if (figs.length) {
      var box = B.el("span", "claim-figures");
      figs.forEach(function (f) { box.appendChild(B.el("span", "figure", f.text)); });
      b.appendChild(box);
    }
    var where = [cite.source, c.date].filter(Boolean).join(", ");
    if (where) b.appendChild(B.el("span", "claim-where", where));
    b.addEventListener("click", function () {
      lastClaim = b;
      back.textContent = "\u2190 Back to the claims";
      B.openSource({ article_id: cite.article_id, start: cite.start, end: cite.end });
    });
    return b;
  }

  function render(query, claims) {
    body.textContent = "";
    if (!claims.length) { notice("The archive holds no attributed claims about \u201c" + query + "\u201d."); return; }
    body.appendChild(B.el("p", "claims-label", "Who said what about \u201c" + query + "\u201d"));
    var order = [], groups = {};
    claims.forEach(function (c) {
      var g = String(c.group);
      if (!groups[g]) { groups[g] = []; order.push(g); }
      groups[g].push(c);
    });
    var list = B.el("ul", "claim-list");
    order.forEach(function (g) {
      var members = groups[g], li = B.el("li");
      if (members.length > 1) {
        var differ = figuresDiffer(members);
        li.className = "claim-group" + (differ ? " disagree" : "");
        li.appendChild(B.el("p", "group-label", members.length + " claims about the same quantity"
          + (differ ? ": the figures differ" : "")));
        var inner = B.el("ul", "claim-list");
        members.forEach(function (c) { var i = B.el("li"); i.appendChild(claimEl(c)); inner.appendChild(i); });
        li.appendChild(inner);
      } else {
        li.appendChild(claimEl(members[0]));
      }
      list.appendChild(li);
    });
    body.appendChild(list);
  }

  async function show() {
    view.hidden = false;
    openBtn.setAttribute("aria-expanded", "true");
    $("claims-back").focus();
    var query = B.topic();
    if (!query) { notice("Ask a question first: who said, estimated or warned what about its topic is listed here."); return; }
    notice("Looking for claims\u2026");
    try {
      var resp = await fetch("api/claims?q=" + encodeURIComponent(query), { headers: B.headers() });
      var data = {};
      try { data = await resp.json(); } catch (e) { /* not JSON */ }
      if (resp.status === 501) { notice("This archive stores no attributed claims, so there is nothing to list here."); return; }
      if (!resp.ok) { notice(data.error || ("Error " + resp.status)); return; }
      render(query, data.claims || []);
    } catch (e) {
      notice("Could not reach the server.");
    }
  }

  function close() {
    if (view.hidden) return false;
    view.hidden = true;
    openBtn.setAttribute("aria-expanded", "false");
    back.textContent = BACK_TO_ANSWER;
    openBtn.focus();
    return true;
  }

  openBtn.addEventListener("click", function () { if (view.hidden) show(); else close(); });
  $("claims-back").addEventListener("click", close);
  // Back from a claim's article returns to the claims, at the claim.
  back.addEventListener("click", function () {
    if (view.hidden) return;
    back.textContent = BACK_TO_ANSWER;
    if (lastClaim && lastClaim.isConnected) setTimeout(function () { lastClaim.focus(); }, 0);
  });
  $("new-chat").addEventListener("click", function () { close(); body.textContent = ""; });
  window.BylineClaims = { open: show, close: close };
})();
