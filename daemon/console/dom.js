// Building the page from data. Every value is set as text (text nodes,
// textContent, attributes): nothing from the API is ever parsed as HTML.

// h('p', {class: 'x'}, 'text', child, ...): an element; strings and numbers
// become text nodes, null and false are skipped, arrays are flattened.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.append(c);
    else el.append(document.createTextNode(String(c)));
  }
}

export function byId(id) {
  return document.getElementById(id);
}

// Replaces the children of el with these.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

// A table whose columns are [header text, cell(row) -> node or text]. Each
// cell names its column (data-label), for the narrow layout of style.css.
export function table(caption, columns, rows, attrs = {}) {
  return h('div', { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: 0 },
    h('table', attrs,
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, columns.map(([head]) => h('th', { scope: 'col' }, head)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([head, cell]) => h('td', { 'data-label': head }, cell(row))))))));
}
