"""WCAG contrast check in the page: for each element matching the selectors, the contrast
of its text colour against the first opaque background behind it (walking up the
ancestors), compared with AA (4.5:1 for normal text, 3:1 for large or bold large text)."""

from __future__ import annotations

from typing import Any

CONTRAST_JS = """(selectors) => {
  function rgba(s) { const m = s.match(/rgba?\\(([^)]+)\\)/); if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; }
  function lum(c) { const v = c.slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; }
  function background(el) { for (let e = el; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor);
    if (c[3] >= 0.99) return c; } return [255, 255, 255, 1]; }
  const out = [];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (!el.textContent.trim() || !el.getClientRects().length) continue;
      const st = getComputedStyle(el), fg = rgba(st.color), bg = background(el);
      const a = fg[3], mixed = [0, 1, 2].map(i => fg[i] * a + bg[i] * (1 - a));
      const l1 = lum(mixed), l2 = lum(bg), ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight) >= 700;
      const need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
      if (ratio < need) out.push(sel + ': ' + el.textContent.trim().slice(0, 40) + ' ' + ratio.toFixed(2) + ' < ' + need);
    }
  }
  return out;
}"""


def contrast_failures(target: Any, selectors: list[str]) -> list[str]:
    """Elements of ``target`` (a Page or Frame) under WCAG AA contrast, described."""
    return target.evaluate(CONTRAST_JS, selectors)
