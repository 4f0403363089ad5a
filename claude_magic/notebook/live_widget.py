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

ESM = r"""
const S = new Map();
function store(model) {
  const key = model.get("key");
  let s = S.get(key);
  if (!s) {
    s = {n: -1, html: "", tail: "", pre: "", views: new Set(), q: Promise.resolve()};
    S.set(key, s);
  }
  return s;
}
async function inflate(buffer) {
  if (typeof DecompressionStream === "undefined") return "";
  const stream = new Blob([buffer]).stream().pipeThrough(new DecompressionStream("deflate"));
  return await new Response(stream).text();
}
async function apply(s, c, buffers) {
  const html = c.h && buffers && buffers.length ? await inflate(buffers[0]) : "";
  const op = {f: !!c.f, html: html, k: c.k || 0, t: c.t || "", p: c.p};
  if (op.f) {
    s.html = html; s.tail = op.t; s.pre = op.p || "";
  } else {
    if (c.n !== s.n + 1) { op.k = s.tail.length; op.t = "… " + op.t; }
    s.html += html;
    s.tail = s.tail.slice(op.k) + op.t;
    if (op.p !== undefined) s.pre = op.p;
  }
  s.n = c.n;
  for (const view of s.views) view(op, s);
}
export default {
  initialize({ model }) {
    const s = store(model);
    const onMessage = (c, buffers) => {
      if (c && typeof c.n === "number") s.q = s.q.then(() => apply(s, c, buffers)).catch(() => {});
    };
    model.on("msg:custom", onMessage);
    model.send({ready: 1});
    return () => { model.off("msg:custom", onMessage); S.delete(model.get("key")); };
  },
  render({ model, el }) {
    const s = store(model);
    const box = document.createElement("div");
    box.className = "claude-magic claude-magic-delta";
    const head = document.createElement("div");
    const body = document.createElement("div");
    const live = document.createElement("div");
    const text = document.createElement("p");
    const pre = document.createElement("div");
    const status = document.createElement("div");
    body.className = live.className = "jp-RenderedHTMLCommon";
    text.className = "claude-magic-tail";
    text.style.whiteSpace = "pre-wrap";
    status.className = "claude-magic-status";
    status.style.cssText = "opacity:0.7;font-size:0.85em";
    const node = document.createTextNode(s.tail);
    text.append(node);
    live.append(text, pre);
    box.append(head, body, live, status);
    el.append(box);
    head.innerHTML = model.get("header");  // sanitised by the kernel
    body.innerHTML = s.html;               // sanitised by the kernel
    pre.innerHTML = s.pre;                 // sanitised by the kernel
    const showStatus = () => { status.textContent = model.get("status"); };
    showStatus();
    model.on("change:status", showStatus);
    const view = (op, st) => {
      if (op.f) { body.innerHTML = st.html; node.data = st.tail; pre.innerHTML = st.pre; return; }
      if (op.html) body.insertAdjacentHTML("beforeend", op.html);
      if (op.k) node.deleteData(0, op.k);
      if (op.t) node.appendData(op.t);
      if (op.p !== undefined) pre.innerHTML = op.p;
    };
    s.views.add(view);
    return () => { s.views.delete(view); model.off("change:status", showStatus); };
  },
};
"""

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
