"""Turn `--image`, `--cell` and `--doc` option values into content for a turn.

Everything is resolved before anything is returned: one bad source raises one
`AttachmentError` (a one-line message naming the fix) and nothing is half-sent.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.messages import MAX_DOCUMENTS, MAX_IMAGES, Block
from ..media.documents import DocumentError, read_document
from ..media.errors import ImageError
from ..media.figures import figure_of, image_from_object, prepare_figure, read_image_file
from ..media.images import PreparedImage, prepare_image
from ..media.limits import DEFAULT_MAX_EDGE

if TYPE_CHECKING:
    from ..models.catalog import Model
    from .outputs import OutputRecorder

_CELL = re.compile(r"^(?:Out\[\s*(\d+)\s*\]|(\d+))(?::(\d+))?$")
_LATEST = re.compile(r"^(?:_|-(\d+))(?::(\d+))?$")
_DOTTED_NAME = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
LATEST_HINT = "use --image _ for the latest plot"
CELL_CONTEXT_MAX_CHARS = 20_000


class AttachmentError(ValueError):
    """An option value that can't be attached; the message says what to do."""


@dataclass(frozen=True)
class AttachedImage:
    """A prepared image and where it came from ("cell 3", "cell 3:2", "fig", "a.png")."""

    prepared: PreparedImage
    label: str

    def to_block(self) -> Block:
        return self.prepared.to_block()

    @property
    def placeholder(self) -> str:
        """Text that stands in for the image once it is dropped from the conversation."""
        return f"[image from {self.label} omitted]"


# ------------------------------------------------------------------ images


def resolve_images(
    sources: list[str],
    shell: Any,
    recorder: OutputRecorder | None,
    *,
    current_cell: int | None = None,
    max_edge: int = DEFAULT_MAX_EDGE,
    max_images: int = MAX_IMAGES,
    model: Model | None = None,
) -> list[AttachedImage]:
    """Every image the `--image` sources name, prepared for Claude, in order.

    A source is `N` / `Out[N]` (every image cell [N] showed), `N:k` (the k-th),
    `_` or `-1` (the latest earlier cell with an image; `-2` the one before),
    a variable holding a figure, PIL image, array, bytes or IPython Image, or a
    file path or glob (sorted)."""
    if not sources:
        return []
    if model is not None and not model.images:
        raise AttachmentError(
            f"{model.name} can't read images: choose another model, e.g. --model sonnet"
        )
    raw: list[tuple[str, Any]] = []
    for source in sources:
        raw.extend(_raw_images(source.strip(), shell, recorder, current_cell))
    if len(raw) > max_images:
        raise AttachmentError(
            f"{len(raw)} images in one turn, but Claude takes at most {max_images}: "
            "attach fewer (e.g. --image 3:1 for one image of cell [3])"
        )
    attached = []
    for label, data in raw:
        try:
            prepared = (
                prepare_image(data, max_edge=max_edge)
                if isinstance(data, bytes)
                else _prepare_figure(data, max_edge)
            )
            attached.append(AttachedImage(prepared, label))
        except ImageError as exc:
            raise AttachmentError(f"{label}: {exc}") from exc
    return attached


def _raw_images(
    source: str, shell: Any, recorder: OutputRecorder | None, current_cell: int | None
) -> list[tuple[str, Any]]:
    """(label, bytes) for each image one source names; (label, Figure) for a variable
    holding a matplotlib figure, drawn later at the size Claude gets."""
    if not source:
        raise AttachmentError("--image needs a value: a cell number, _, a variable name or a path")
    cell = _CELL.match(source)
    if cell:
        number = int(cell.group(1) or cell.group(2))
        return _cell_images(_require(recorder), number, _index(cell.group(3)))
    latest = _LATEST.match(source)
    if latest:
        number = _latest_image_cell(_require(recorder), int(latest.group(1) or 1), current_cell)
        return _cell_images(_require(recorder), number, _index(latest.group(2)))
    if _DOTTED_NAME.match(source) and not Path(source).expanduser().exists():
        found, value = _lookup(shell, source)
        if found:
            try:
                figure = figure_of(value)
                return [(source, figure if figure is not None else image_from_object(value))]
            except ImageError as exc:
                raise AttachmentError(f"--image {source}: {exc}") from exc
        if "." not in source:
            raise AttachmentError(
                f"No variable or file named {source!r}: pass a cell number "
                "(--image 3), a variable holding a figure, or a path"
            )
    return _file_images(source)


def _prepare_figure(figure: Any, max_edge: int) -> PreparedImage:
    """A figure drawn at the size Claude gets; saved at full size and downscaled as
    any image where that drawing fails (an unusual artist, a backend quirk)."""
    try:
        return prepare_figure(figure, max_edge=max_edge)
    except ImageError:
        raise
    except Exception:
        return prepare_image(image_from_object(figure), max_edge=max_edge)


def _require(recorder: OutputRecorder | None) -> OutputRecorder:
    if recorder is None:
        raise AttachmentError(
            "cell outputs aren't being recorded: %load_ext claude_magic, "
            "then run the plot cell again"
        )
    return recorder


def _index(text: str | None) -> int | None:
    if text is None:
        return None
    if int(text) < 1:
        raise AttachmentError("image numbers start at 1: use N:1 for the first image of cell [N]")
    return int(text)


def _latest_image_cell(recorder: OutputRecorder, nth: int, current_cell: int | None) -> int:
    """The nth most recent recorded cell (before `current_cell`) that showed an image."""
    before = current_cell
    for found in range(nth):
        number = recorder.latest_with_image(before=before)
        if number is None:
            if found == 0:
                raise AttachmentError(
                    "No earlier cell has shown an image: run a plot cell first, "
                    "or pass a figure variable or a path"
                )
            raise AttachmentError(
                f"Only {found} earlier cell(s) showed images: use --image -1 to --image -{found}"
            )
        before = number
    assert before is not None
    return before


def _cell_images(recorder: OutputRecorder, number: int, k: int | None) -> list[tuple[str, bytes]]:
    record = recorder.record(number)
    if record is None:
        raise AttachmentError(
            f"Cell [{number}] has no recorded output; run it first, or {LATEST_HINT}"
        )
    images = record.images
    if not images:
        if record.images_dropped:
            raise AttachmentError(
                f"Cell [{number}]'s images are no longer kept (oldest are dropped "
                "to bound memory): run it again"
            )
        raise AttachmentError(
            f"Cell [{number}] showed no image; {LATEST_HINT}, or name a figure variable"
        )
    if k is None:
        if len(images) == 1:
            return [(f"cell {number}", images[0].data)]
        return [(f"cell {number}:{i}", image.data) for i, image in enumerate(images, 1)]
    if k > len(images):
        choices = (
            f"--image {number}" if len(images) == 1 else f"{number}:1 to {number}:{len(images)}"
        )
        raise AttachmentError(
            f"Cell [{number}] showed {len(images)} image(s), not {k}: use {choices}"
        )
    return [(f"cell {number}:{k}", images[k - 1].data)]


def _lookup(shell: Any, dotted: str) -> tuple[bool, Any]:
    """(found, value) for a variable name or attribute path in the user's namespace."""
    head, *rest = dotted.split(".")
    namespace = getattr(shell, "user_ns", None) or {}
    if head not in namespace:
        return False, None
    value = namespace[head]
    for attr in rest:
        if not hasattr(value, attr):
            raise AttachmentError(
                f"--image {dotted}: {head} has no attribute path {'.'.join(rest)!r}, "
                "and there is no such file"
            )
        value = getattr(value, attr)
    return True, value


def _expand(pattern: str, option: str) -> list[Path]:
    """The files a path or glob names (globs sorted), with one-line errors."""
    expanded = str(Path(pattern).expanduser())
    if glob.has_magic(expanded):
        matches = sorted(p for p in glob.glob(expanded, recursive=True) if Path(p).is_file())
        if not matches:
            raise AttachmentError(f"{option} {pattern!r} matched no files")
        return [Path(p) for p in matches]
    path = Path(expanded)
    if path.is_dir():
        raise AttachmentError(
            f"{option} {pattern!r} is a folder: name a file, or a glob like "
            f"'{pattern.rstrip('/')}/*'"
        )
    if not path.exists():
        raise AttachmentError(f"No such file: {pattern!r}")
    return [path]


def _file_images(pattern: str) -> list[tuple[str, bytes]]:
    images = []
    for path in _expand(pattern, "--image"):
        try:
            images.append((str(path), read_image_file(path)))
        except ImageError as exc:
            raise AttachmentError(f"{path}: {exc}") from exc
    return images


# ------------------------------------------------------------------ --cell


def cell_context(
    n: int, recorder: OutputRecorder | None, *, max_chars: int = CELL_CONTEXT_MAX_CHARS
) -> str:
    """Cell [n]'s source and text output, fenced, for `--cell N`."""
    source = recorder.source(n) if recorder is not None else None
    shell = getattr(recorder, "shell", None)
    if source is None:
        history = getattr(shell, "user_ns", {}).get("In") if shell is not None else None
        if isinstance(history, list) and 0 < n < len(history):
            source = history[n]
    if source is None:
        raise AttachmentError(f"Cell [{n}] has no recorded source; run it first")
    text = _clip(recorder.text(n), max_chars) if recorder is not None else ""
    parts = [f"Cell [{n}]:\n{_fenced(source.rstrip(), 'python')}"]
    if text.strip():
        parts.append(f"Output of cell [{n}]:\n{_fenced(text.rstrip())}")
    return "\n".join(parts)


def _fenced(text: str, language: str = "") -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}\n"


def _clip(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters omitted ...]\n{text[-half:]}"


# ------------------------------------------------------------------ --doc


def resolve_documents(paths: list[str], model: Model | None) -> list[Block]:
    """Document blocks for `--doc` paths (or globs): PDFs (base64) and UTF-8 text files
    (`media.documents` reads each)."""
    if not paths:
        return []
    if model is not None and not model.documents:
        raise AttachmentError(
            f"{model.name} can't read documents: choose another model, e.g. --model sonnet"
        )
    files = [path for pattern in paths for path in _expand(pattern.strip(), "--doc")]
    if len(files) > MAX_DOCUMENTS:
        raise AttachmentError(
            f"{len(files)} documents in one turn, but Claude takes at most "
            f"{MAX_DOCUMENTS}: attach fewer"
        )
    return [_document(path) for path in files]


def _document(path: Path) -> Block:
    try:
        return read_document(path)
    except DocumentError as exc:
        raise AttachmentError(str(exc)) from exc
