"""The IPython side: `%%claude` and its options (`magics`), the `%claude` line commands
(`commands`), per-kernel state (`session`), one cell's turn (`turn`), the streaming views
(`view`), the output recorder (`outputs`), attachments from cells and files
(`attachments`) and notebook export (`export`).

The only layer that imports IPython, traitlets or ipywidgets; may import every other
layer, the emulator included (to start the built-in one).
"""
