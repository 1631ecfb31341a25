"""Image attachments (`exec --image FILE`): checked, read and turned into base64 data URLs.

Ollama's /v1 accepts images only as data URLs of PNG, JPEG or WebP (remote URLs are refused), so the
type is read from the file's first bytes, never trusted from its name. Only a regular file is read
(`ocodex.files`: a FIFO the model left in the workspace cannot hang the run), and never more than
the size limit.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path

from ocodex.errors import UsageError
from ocodex.files import NotRegularFile, read_regular

MAX_IMAGE_BYTES = 20 * 1024 * 1024
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


def split_image_args(values: Iterable[str]) -> list[str]:
    """`--image a.png,b.jpg --image c.webp` -> three paths (Codex takes comma-separated lists too)."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def image_type(data: bytes) -> str | None:
    for signature, mime in _SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_data_url(path: Path, shown: str | None = None) -> str:
    """A `data:image/...;base64,...` URL for one image file; a UsageError for anything else.
    Errors name the file as `shown` (what the user typed), else as `path`."""
    label = shown or str(path)
    try:
        data = read_regular(path, MAX_IMAGE_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"--image {label}: no such file") from None
    except NotRegularFile:
        raise UsageError(f"--image {label}: not a file") from None
    except OSError as exc:
        raise UsageError(f"--image {label}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise UsageError(f"--image {label}: more than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB is too large; "
                         "scale the image down")
    mime = image_type(data)
    if mime is None:
        raise UsageError(f"--image {label}: not a PNG, JPEG or WebP image (the formats Ollama accepts)")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def load_images(values: Iterable[str], cwd: Path) -> list[str]:
    """Data URLs for every `--image` value; relative paths are read from `cwd`."""
    return [image_data_url(cwd / Path(raw).expanduser(), raw) for raw in split_image_args(values)]
