// Accessibility checks run on the shipped pages by the test: every control
// has a name, every form field a label, and the text of every visible
// control, paragraph and link has a contrast of at least 4.5:1 (WCAG AA).
(() => {
  const problems = [];
  const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const bg = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const name = (el) => (el.getAttribute("aria-label") || el.textContent || "").trim() ||
    (el.id && document.querySelector(`label[for="${el.id}"]`)?.textContent.trim()) || "";
  for (const el of document.querySelectorAll("button, select, a, input")) {
    if (!name(el)) problems.push(`${el.tagName}#${el.id} has no accessible name`);
    if (el.tabIndex < 0) problems.push(`${el.tagName}#${el.id} cannot be reached by keyboard`);
  }
  for (const el of document.querySelectorAll("select, input")) {
    if (!document.querySelector(`label[for="${el.id}"]`) && !el.getAttribute("aria-label")) problems.push(`${el.tagName}#${el.id} has no label`);
  }
  for (const el of document.querySelectorAll("h1, h2, p, a, button, select, dt, dd, label")) {
    if (!el.textContent.trim() || el.offsetParent === null) continue;
    const fg = lum(rgb(getComputedStyle(el).color).slice(0, 3)), b = lum(bg(el));
    const ratio = (Math.max(fg, b) + 0.05) / (Math.min(fg, b) + 0.05);
    if (ratio < 4.5) problems.push(`${el.tagName}#${el.id} "${el.textContent.trim().slice(0, 30)}": contrast ${ratio.toFixed(2)}:1`);
  }
  if (!document.documentElement.lang) problems.push("no lang on <html>");
  return problems;
})()
