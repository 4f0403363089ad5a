"""A small anywidget that shows an answer from deltas: the new text of the
unfinished block, appended as a text node, and the sanitised HTML of each block
once it is finished (deflate-compressed, in a binary buffer).

Messages, kernel to page (one per live update, `n` counts them from 0):

    {"n": 3, "k": 17, "t": "new text"}  # drop k UTF-16 units from the front of the
                                        # unfinished text, then append t (a text node)
    {"n": 4, "h": 1, ...} + [deflate(html)]   # append this sanitised HTML
    {"n": 5, "p": "<div>...</div>"}    # replace the live preview (tool input, thinking)
    {"n": 6, "f": 1, "t": ..., "p": ..., "h": 1} + [deflate(all html)]  # the whole state

Whole-state messages are sent for the first moments after the widget opens, while
the page may still be loading the module and would miss a delta; a page that still
finds a gap shows "…" there (the static bundle replaces the widget at the end).
The page says `{"ready": 1}` when the module has loaded, which is how the kernel
learns that this front end can show the widget. Nothing of the answer is kept in
the widget's synced state: saved widget state never holds it.
"""

from __future__ import annotations

from typing import Any

import anywidget
import ipywidgets
import traitlets

_SOURCE = r"""
const S = new Map();
function store(m) {
  const key = m.get("key");
  let s = S.get(key);
  if (!s) { s = {n: -1, html: "", tail: "", pre: "", views: new Set(), q: Promise.resolve()}; S.set(key, s); }
  return s;
}
async function inflate(b) {
  if (typeof DecompressionStream === "undefined") return "";
  return await new Response(new Blob([b]).stream().pipeThrough(new DecompressionStream("deflate"))).text();
}
async function apply(s, c, bs) {
  const op = {f: !!c.f, html: c.h && bs && bs.length ? await inflate(bs[0]) : "", k: c.k || 0, t: c.t || "", p: c.p};
  if (op.f) { s.html = op.html; s.tail = op.t; s.pre = op.p || ""; }
  else {
    if (c.n !== s.n + 1) { op.k = s.tail.length; op.t = "… " + op.t; }
    s.html += op.html; s.tail = s.tail.slice(op.k) + op.t;
    if (op.p !== undefined) s.pre = op.p;
  }
  s.n = c.n;
  for (const v of s.views) v(op, s);
}
function div(parent, cls) {
  const e = document.createElement("div");
  e.className = cls; parent.append(e);
  return e;
}
export default {
  initialize({ model }) {
    const s = store(model);
    const on = (c, bs) => { if (c && typeof c.n === "number") s.q = s.q.then(() => apply(s, c, bs)).catch(() => {}); };
    model.on("msg:custom", on);
    model.send({ready: 1});
    return () => { model.off("msg:custom", on); S.delete(model.get("key")); };
  },
  render({ model, el }) {
    const s = store(model);
    const box = div(el, "claude-magic claude-magic-delta");
    const head = div(box, "claude-magic-head"), body = div(box, "jp-RenderedHTMLCommon");
    const live = div(box, "jp-RenderedHTMLCommon"), text = div(live, "claude-magic-tail");
    const pre = div(live, "claude-magic-preview"), status = div(box, "claude-magic-status");
    text.style.whiteSpace = "pre-wrap";
    status.style.cssText = "opacity:0.7;font-size:0.85em";
    const node = document.createTextNode(s.tail);
    text.append(node);
    head.innerHTML = model.get("header");
    body.innerHTML = s.html;
    pre.innerHTML = s.pre;
    const st = () => { status.textContent = model.get("status"); };
    st();
    model.on("change:status", st);
    const v = (op, s) => {
      if (op.f) { body.innerHTML = s.html; node.data = s.tail; pre.innerHTML = s.pre; return; }
      if (op.html) body.insertAdjacentHTML("beforeend", op.html);
      if (op.k) node.deleteData(0, op.k);
      if (op.t) node.appendData(op.t);
      if (op.p !== undefined) pre.innerHTML = op.p;
    };
    s.views.add(v);
    return () => { s.views.delete(v); model.off("change:status", st); };
  },
};
"""
# The page's code; what is innerHTML'd (header, finished blocks, previews) is HTML the
# kernel sanitised (render.py); the unfinished text only ever goes into a text node.
ESM = "\n".join(line.strip() for line in _SOURCE.splitlines() if line.strip())

_shared_layout: Any = None


def shared_layout() -> Any:
    """One Layout for every live answer of this kernel (each would otherwise open a
    Layout widget of its own, with all its empty properties, every time)."""
    global _shared_layout
    if _shared_layout is None or _shared_layout.comm is None:
        _shared_layout = ipywidgets.Layout()
    return _shared_layout


class LiveAnswer(anywidget.AnyWidget):
    """The live answer widget; see the module docstring."""

    _esm = ESM
    key = traitlets.Unicode("").tag(sync=True)  # tells apart answers that share the module
    header = traitlets.Unicode("").tag(sync=True)  # sanitised HTML
    status = traitlets.Unicode("").tag(sync=True)  # plain text

    def __repr__(self) -> str:  # the display's text/plain
        return "claude-magic live answer"
