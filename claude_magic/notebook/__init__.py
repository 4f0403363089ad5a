"""The IPython side: a cell flows one way through its stages.

`magics` (the adapter: traits, options, dispatch) → `cell` (route: foreground or
`background`) → `prepare` → `answer` (`send` → `commit` → `deliver`), all around the
kernel `session` and the frozen `config` and `options`; line commands live in the
`commands` registry; `view`s show an answer live; `many` is the Python API.

The only layer that imports IPython, traitlets or ipywidgets; may import every other
layer, the emulator included (to start the built-in one).
"""
