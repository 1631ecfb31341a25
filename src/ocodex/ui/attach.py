"""What a prompt brings along: `@path` mentions and pasted image paths.

- `@file` attaches the file: its text follows the prompt in a `<file path="...">` block (at most
  `MAX_FILE_BYTES`, read as a regular file without blocking: `ocodex.files`).
- `@dir/` (or `@dir`) attaches a listing of that folder.
- An image (`@shot.png`, or a pasted or dragged path of a PNG, JPEG or WebP file) is attached as an image
  where the model has vision; otherwise a note says it was not sent.
- A mention of nothing that exists stays plain text, with a note.

The prompt's own words are sent as typed; the attachments follow it.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ocodex.files import NotRegularFile, read_regular

MAX_FILE_BYTES = 64 * 1024
MAX_LISTING = 200
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
_MENTION = re.compile(r"(?<![\w@])@(\S+)")


@dataclass(slots=True)
class Prepared:
    """A prompt ready to send: its text with attachments, image data URLs, and notes for the person."""

    text: str
    images: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    attached: list[str] = field(default_factory=list)  # what was attached, as mentioned


def prepare(prompt: str, cwd: Path, *, vision: bool | None) -> Prepared:
    """Expand `prompt`'s mentions. `vision`: whether the model reads images (None: unknown, try)."""
    prepared = Prepared(prompt)
    blocks: list[str] = []
    seen: set[str] = set()
    for raw in _MENTION.findall(prompt):
        mention = raw.rstrip(".,;:!?)\"'")
        if not mention or mention in seen:
            continue
        seen.add(mention)
        path = (cwd / Path(mention).expanduser()).resolve() if not mention.startswith("/") else Path(mention)
        if mention.lower().endswith(IMAGE_SUFFIXES) and path.is_file():
            _image(prepared, path, mention, vision)
        elif path.is_dir():
            blocks.append(_listing(path, mention))
            prepared.attached.append(mention.rstrip("/") + "/")
        elif path.exists():
            block = _file(path, mention, prepared)
            if block is not None:
                blocks.append(block)
                prepared.attached.append(mention)
        else:
            prepared.notes.append(f"@{mention}: no such file or folder; sent as text")
    for candidate in _pasted_image_paths(prompt):
        if candidate not in seen:
            seen.add(candidate)
            _image(prepared, Path(candidate).expanduser(), candidate, vision)
    if blocks:
        prepared.text = prompt.rstrip() + "\n\n" + "\n\n".join(blocks)
    return prepared


def _file(path: Path, mention: str, prepared: Prepared) -> str | None:
    try:
        data = read_regular(path, MAX_FILE_BYTES + 1)
    except NotRegularFile:
        prepared.notes.append(f"@{mention}: not a regular file; not attached")
        return None
    except OSError as exc:
        prepared.notes.append(f"@{mention}: cannot read it ({exc.strerror or exc}); not attached")
        return None
    cut = len(data) > MAX_FILE_BYTES
    text = data[:MAX_FILE_BYTES].decode("utf-8", "replace")
    if "\x00" in text:
        prepared.notes.append(f"@{mention}: a binary file; not attached")
        return None
    if cut:
        prepared.notes.append(f"@{mention}: only its first {MAX_FILE_BYTES // 1024} KiB attached")
        text += f"\n[... cut at {MAX_FILE_BYTES // 1024} KiB]"
    return f'<file path="{mention}">\n{text.rstrip()}\n</file>'


def _listing(path: Path, mention: str) -> str:
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as exc:
        return f'<directory path="{mention}">\n(cannot list it: {exc.strerror or exc})\n</directory>'
    names = [entry.name + ("/" if entry.is_dir(follow_symlinks=False) else "") for entry in entries
             if entry.name != ".git"]
    shown = names[:MAX_LISTING]
    more = f"\n... and {len(names) - MAX_LISTING} more" if len(names) > MAX_LISTING else ""
    return f'<directory path="{mention.rstrip("/")}/">\n' + "\n".join(shown) + more + "\n</directory>"


def _image(prepared: Prepared, path: Path, mention: str, vision: bool | None) -> None:
    from ocodex.attachments import image_data_url
    from ocodex.errors import UsageError

    if vision is False:
        prepared.notes.append(f"{mention}: not sent, the model cannot read images (no vision capability)")
        return
    try:
        prepared.images.append(image_data_url(path, mention))
    except UsageError as exc:
        prepared.notes.append(exc.message.removeprefix("--image "))
        return
    prepared.attached.append(mention)


def _pasted_image_paths(prompt: str) -> list[str]:
    """Absolute (or ~) paths of existing image files in the prompt, as a pasted or dragged path appears
    (quoted or with escaped spaces too)."""
    try:
        words = shlex.split(prompt, posix=True)
    except ValueError:
        words = prompt.split()
    found = []
    for word in words:
        word = word.rstrip(".,;:!?)\"'")  # "what is in /tmp/shot.png?"
        if word.startswith(("/", "~/", "file://")) and word.lower().endswith(IMAGE_SUFFIXES):
            path = word.removeprefix("file://")
            if Path(path).expanduser().is_file():
                found.append(path)
    return found
