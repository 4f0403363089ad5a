"""A small anywidget that shows an answer from deltas: the new text of the
unfinished block, appended as a text node, and the sanitised HTML of each block
once it is finished (deflate-compressed, in a binary buffer).

Messages, kernel to page (one per live update, `n` counts them from 0):

    {"n": 3, "k": 17, "t": "new text"}  # drop k UTF-16 units from the front of the
                                        # unfinished text, then append t (a text node)
    {"n": 4, "h": 1, ...} + [deflate(html)]   # append this sanitised HTML
    {"n": 5, "p": "<div>...</div>"}    # replace the live preview (tool input)
    {"n": 6, "s": "Thinking…", "r": "new thinking"}  # (re)start the live, collapsed
                                        # thinking section with this title ("" hides
                                        # it), then append r to its text (a text node)
    {"n": 7, "r": "more thinking"}     # append to the live thinking section's text
    {"n": 8, "f": 1, "t": ..., "p": ..., "s": ..., "r": ..., "h": 1} + [deflate(all html)]
                                        # the whole state

Whole-state messages are sent for the first moments after the widget opens, while
the page may still be loading the module and would miss a delta; a page that still
finds a gap shows "…" there (the static bundle replaces the widget at the end).
The page says `{"ready": 1}` when the module has loaded, which is how the kernel
learns that this front end can show the widget. Nothing of the answer is kept in
the widget's synced state: saved widget state never holds it. `controls` are
widgets (a Stop button) that the page shows beside the header.
"""

from __future__ import annotations

import json
from typing import Any

import anywidget
import ipywidgets
import traitlets

from ..core.thinking import TEXT_STYLE

_SOURCE = r"""
const S = new Map();
function store(m) {
  const key = m.get("key");
  let s = S.get(key);
  if (!s) { s = {n: -1, html: "", tail: "", pre: "", sum: "", think: "", views: new Set(), q: Promise.resolve()}; S.set(key, s); }
  return s;
}
async function inflate(b) {
  if (typeof DecompressionStream === "undefined") return "";
  return await new Response(new Blob([b]).stream().pipeThrough(new DecompressionStream("deflate"))).text();
}
async function apply(s, c, bs) {
  const op = {f: !!c.f, html: c.h && bs && bs.length ? await inflate(bs[0]) : "", k: c.k || 0, t: c.t || "", p: c.p,
              s: c.s, r: c.r || ""};
  if (op.f) { s.html = op.html; s.tail = op.t; s.pre = op.p || ""; s.sum = op.s || ""; s.think = op.r; }
  else {
    if (c.n !== s.n + 1) {
      op.k = s.tail.length; op.t = "… " + op.t;
      if (op.s === undefined && s.sum) op.r = "… " + op.r;
    }
    s.html += op.html; s.tail = s.tail.slice(op.k) + op.t;
    if (op.p !== undefined) s.pre = op.p;
    if (op.s !== undefined) { s.sum = op.s; s.think = ""; }
    s.think += op.r;
  }
  s.n = c.n;
  for (const v of s.views) v(op, s);
}
function div(parent, cls, tag) {
  const e = document.createElement(tag || "div");
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
    const head = div(box, "claude-magic-head"), title = div(head, ""), ctl = div(head, "claude-magic-controls");
    const body = div(box, "jp-RenderedHTMLCommon"), live = div(box, "jp-RenderedHTMLCommon");
    const think = div(live, "claude-magic-thinking", "details"), sum = div(think, "", "summary");
    const thought = div(think, "claude-magic-thinking-text"), text = div(live, "claude-magic-tail");
    const pre = div(live, "claude-magic-preview"), status = div(box, "claude-magic-status");
    head.style.cssText = "display:flex;align-items:center;gap:0.5em";
    title.style.flex = "1 1 auto";
    ctl.style.cssText = "display:flex;flex:0 0 auto";
    text.style.whiteSpace = "pre-wrap";
    thought.style.cssText = THINKING_TEXT_STYLE;
    sum.style.cssText = status.style.cssText = "opacity:0.7;font-size:0.85em";
    const node = document.createTextNode(s.tail), tnode = document.createTextNode(s.think);
    text.append(node);
    thought.append(tnode);
    const section = () => { sum.textContent = s.sum; think.hidden = !s.sum; };
    title.innerHTML = model.get("header");
    body.innerHTML = s.html;
    pre.innerHTML = s.pre;
    section();
    const st = () => { status.textContent = model.get("status"); };
    st();
    model.on("change:status", st);
    let kids = [], shown = 0;
    const controls = async () => {
      const mine = ++shown, ids = model.get("controls") || [];
      for (const k of kids.splice(0)) k.remove();
      for (const id of ids) {
        try {
          const m = await model.widget_manager.get_model(id.slice("IPY_MODEL_".length));
          const kid = await model.widget_manager.create_view(m);
          if (mine !== shown) { kid.remove(); return; }
          kids.push(kid); ctl.append(kid.el);
        } catch (e) {}
      }
    };
    controls();
    model.on("change:controls", controls);
    const v = (op, s) => {
      if (op.f) { body.innerHTML = s.html; node.data = s.tail; pre.innerHTML = s.pre; tnode.data = s.think; section(); return; }
      if (op.html) body.insertAdjacentHTML("beforeend", op.html);
      if (op.k) node.deleteData(0, op.k);
      if (op.t) node.appendData(op.t);
      if (op.p !== undefined) pre.innerHTML = op.p;
      if (op.s !== undefined) { tnode.data = ""; section(); }
      if (op.r) tnode.appendData(op.r);
    };
    s.views.add(v);
    return () => {
      s.views.delete(v); shown++; model.off("change:status", st); model.off("change:controls", controls);
      for (const k of kids.splice(0)) k.remove();
    };
  },
};
"""
# The page's code; what is innerHTML'd (header, finished blocks, previews) is HTML the
# kernel sanitised (render.py); the unfinished text, the thinking text and the thinking
# section's title only ever go into text nodes.
ESM = "\n".join(line.strip() for line in _SOURCE.splitlines() if line.strip()).replace(
    "THINKING_TEXT_STYLE", json.dumps(TEXT_STYLE)
)

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
    controls = traitlets.List(traitlets.Instance(ipywidgets.DOMWidget)).tag(
        sync=True, **ipywidgets.widget_serialization
    )  # shown beside the header

    def __repr__(self) -> str:  # the display's text/plain
        return "claude-magic live answer"
