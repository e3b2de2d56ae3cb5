() => {
  /* Byline chat page behaviour (Gradio's `js` on load): accessible message labels, the
     phone source overlay (Back to the answer, Escape) and keyboard use. */
  if (window.__bylinePage) return;
  window.__bylinePage = true;
  var body = document.body;

  // Gradio labels each message "<role>'s message: <content>"; our content is HTML, so
  // the label would read markup aloud. Relabel from the rendered text.
  function relabel(el) {
    var label = el.getAttribute('aria-label') || '';
    if (label.indexOf("'s message:") < 0 || (label.indexOf('<') < 0 && label.indexOf('&') < 0)) return;
    var who = label.split("'s message:")[0] || 'bot';
    var text = who + "'s message: " + (el.textContent || '').replace(/\s+/g, ' ').trim();
    // The text itself may hold "<" (an article quoting markup): set it once, or the
    // observer would see its own change forever.
    if (text !== label) el.setAttribute('aria-label', text);
  }
  new MutationObserver(function (records) {
    records.forEach(function (r) {
      if (r.type === 'attributes') relabel(r.target);
      else r.addedNodes.forEach(function (n) {
        if (n.nodeType !== 1) return;
        if (n.hasAttribute && n.hasAttribute('aria-label')) relabel(n);
        n.querySelectorAll && n.querySelectorAll('[aria-label]').forEach(relabel);
      });
    });
  }).observe(body, {subtree: true, childList: true, attributes: true, attributeFilter: ['aria-label']});
  document.querySelectorAll('[aria-label]').forEach(relabel);

  window.__bylineCloseSource = function () {
    var col = document.getElementById('byline-source-col');
    if (!col || !col.classList.contains('byline-open')) return false;
    col.classList.remove('byline-open');
    body.style.overflow = '';
    var back = window.__bylineLastCite;
    if (back && back.isConnected) back.focus({preventScroll: true});
    return true;
  };
  document.addEventListener('click', function (e) {
    var b = e.target && e.target.closest ? e.target.closest('.byline-back') : null;
    if (b) { e.preventDefault(); window.__bylineCloseSource(); }
  });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && window.__bylineCloseSource()) e.preventDefault();
  });
}
