/* Byline widget: include on a host page with
     <script src="https://byline.example/widget.js" data-title="Ask the archive" async></script>
   and it adds a launcher button that opens Byline's /embed chat in an iframe.
   Options (data-* attributes of the script tag): data-token (access token, if the server
   needs one; or ?token= on the script URL), data-label (button text), data-title (iframe
   title), data-position ("right" or "left"), data-color (#rgb/#rrggbb), data-open ("true"
   opens the panel at once). The host origin must be in Byline's server.allowed_origins. */
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
      frame.src = base + "embed" + (token ? "?token=" + encodeURIComponent(token) : "");
      frame.setAttribute("referrerpolicy", "no-referrer");
      panel.appendChild(frame);
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
  button.addEventListener("click", function () { panel.style.display === "none" ? open() : close(); });
  window.addEventListener("message", function (e) {
    if (frame && e.source === frame.contentWindow && e.data && e.data.type === "byline:close") close();
  });

  root.appendChild(panel);
  root.appendChild(button);
  function mount() {
    document.body.appendChild(host);
    if (data.open === "true") open();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
  window.Byline = { open: open, close: close };
})();
