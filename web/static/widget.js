/* Byline widget: include on a host page with
     <script src="https://byline.example/widget.js" data-title="Ask the archive" async></script>
   and it adds a launcher button that opens Byline's /embed chat in an iframe.
   Options (data-* attributes of the script tag): data-token (access token, if the server
   needs one; or ?token= on the script URL), data-label (button text), data-title (iframe
   title), data-position ("right" or "left"), data-color (#rgb/#rrggbb), data-open ("true"
   opens the panel at once), data-timeout (ms to wait for the chat to load, default 10000).
   The host origin must be in Byline's server.allowed_origins: when the chat does not
   load (the browser refused to frame it, or the server is down) the panel says so and
   names the setting. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__bylineWidget) return;
  window.__bylineWidget = true;
  var src = new URL(script.src, location.href);
  var base = src.href.split("?")[0].replace(/widget\.js$/, "");
  var data = script.dataset || {};
  var token = data.token || src.searchParams.get("token") || "";
  var side = data.position === "left" ? "left" : "right";
  var color = /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/.test(data.color || "") ? data.color : "#1f4e79";
  var label = data.label || "Ask the archive";
  var title = data.title || "Byline: questions about the news archive";
  var timeout = Math.max(1000, parseInt(data.timeout || "10000", 10) || 10000);
  var ready = false;

  function style(el, props) { for (var k in props) el.style[k] = props[k]; return el; }

  var host = document.createElement("div");
  host.id = "byline-widget";
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;

  var button = style(document.createElement("button"), {
    position: "fixed", bottom: "20px", zIndex: "2147483000", background: color, color: "#fff",
    border: "none", borderRadius: "24px", padding: "12px 18px", font: "600 14px system-ui, sans-serif",
    boxShadow: "0 4px 14px rgba(0,0,0,.25)", cursor: "pointer"
  });
  button.style[side] = "20px";
  button.type = "button";
  button.textContent = label;
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "byline-panel");
  button.className = "byline-launcher";

  var panel = style(document.createElement("div"), {
    position: "fixed", bottom: "76px", width: "380px", maxWidth: "calc(100vw - 40px)",
    height: "560px", maxHeight: "calc(100vh - 100px)", zIndex: "2147483000", display: "none",
    borderRadius: "12px", overflow: "hidden", boxShadow: "0 8px 30px rgba(0,0,0,.3)", background: "#fff"
  });
  panel.style[side] = "20px";
  panel.id = "byline-panel";
  var frame = null;

  function open() {
    if (!frame) {
      frame = style(document.createElement("iframe"), { width: "100%", height: "100%", border: "0" });
      frame.title = title;
      var query = [];
      if (token) query.push("token=" + encodeURIComponent(token));
      if (color !== "#1f4e79") query.push("color=" + encodeURIComponent(color));
      frame.src = base + "embed" + (query.length ? "?" + query.join("&") : "");
      frame.setAttribute("referrerpolicy", "no-referrer");
      panel.appendChild(frame);
      setTimeout(function () { if (!ready) explain(); }, timeout);
    }
    panel.style.display = "block";
    button.setAttribute("aria-expanded", "true");
    setTimeout(function () { try { frame.focus(); } catch (e) { /* cross-origin */ } }, 50);
  }
  function close() {
    panel.style.display = "none";
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }
  // The embed page posts "byline:ready" once it runs; without it, explain why.
  function explain() {
    var box = style(document.createElement("div"), {
      position: "absolute", inset: "0", padding: "20px", background: "#fff", color: "#1c2430",
      font: "14px/1.5 system-ui, sans-serif", overflowY: "auto"
    });
    box.className = "byline-load-error";
    box.setAttribute("role", "alert");
    var head = style(document.createElement("p"), { margin: "0 0 10px", fontWeight: "700", color: color });
    head.textContent = "The archive chat could not be loaded here.";
    var why = document.createElement("p");
    why.className = "byline-load-why";
    why.textContent = "Checking the server\u2026";
    var fix = document.createElement("p");
    fix.textContent = "Byline only lets the origins listed in its server.allowed_origins setting show the chat. "
      + "Add this page's origin, " + location.origin + ", to server.allowed_origins (or BYLINE_SERVER__ALLOWED_ORIGINS) "
      + "and restart Byline.";
    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "Close";
    close.addEventListener("click", function () { hide(); });
    box.appendChild(head); box.appendChild(why); box.appendChild(fix); box.appendChild(close);
    if (frame) frame.style.visibility = "hidden";
    panel.style.position = "fixed";
    panel.appendChild(box);
    // An opaque request tells "server up, origin refused" from "server unreachable".
    fetch(base + "healthz", { mode: "no-cors", cache: "no-store" }).then(function () {
      why.textContent = "The server at " + base + " is running, but it did not allow this page (" + location.origin
        + ") to show the chat.";
    }, function () {
      why.textContent = "The Byline server at " + base + " could not be reached: it may be down, or this page's "
        + "origin may not be allowed.";
    });
  }
  function hide() { close(); }
  button.addEventListener("click", function () { panel.style.display === "none" ? open() : close(); });
  window.addEventListener("message", function (e) {
    if (!frame || e.source !== frame.contentWindow || !e.data) return;
    if (e.data.type === "byline:ready") ready = true;
    else if (e.data.type === "byline:close") close();
  });

  root.appendChild(panel);
  root.appendChild(button);
  function mount() {
    document.body.appendChild(host);
    if (data.open === "true") open();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
  // ready: the chat in the panel has loaded (its handshake arrived).
  window.Byline = { open: open, close: close, get ready() { return ready; } };
})();
