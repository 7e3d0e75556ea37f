"""Hash a model on disk the way OMS ``files`` serialization does: one SHA-256 per regular file.

* A single file is one resource named by the file's name (spec §6.1.2 rule 5; model-signing names it ``.``,
  which :mod:`._verify` also accepts).
* A directory: every regular file below it, named by its POSIX path relative to the root, except ignored
  paths. A path is ignored when it equals or lies below an ignored path (relative to the root). Ignored by
  default (spec §6.2, top level only): ``.git``, ``.gitattributes``, ``.github``, ``.gitignore``; and the
  signature file itself when it lies inside the model.
* Symbolic links are refused (``allow_symlinks: false``, the reference CLI's default); so is anything that is
  neither a regular file nor a directory, and a file name that is not valid UTF-8 (spec §6.1.2 rule 7).

Files are streamed through :func:`diabetes_risk_model.files.sha256_file` (bounded memory).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from diabetes_risk_model.errors import UnsafeResourceName
from diabetes_risk_model.files import sha256_file

GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")


def relative_ignores(root: Path, paths: Iterable[str | Path]) -> list[PurePosixPath]:
    """Turn user-given paths (absolute, or relative to the current directory) into root-relative ones.

    Paths outside the model are dropped, as the reference CLI does.
    """
    base = Path(root).resolve()
    out = []
    for path in paths:
        candidate = Path(path) if Path(path).is_absolute() else Path.cwd() / path
        try:
            out.append(PurePosixPath(candidate.resolve().relative_to(base).as_posix()))
        except ValueError:
            continue
    return out


def _ignored(name: PurePosixPath, ignore: list[PurePosixPath]) -> bool:
    return any(name == p or name.is_relative_to(p) for p in ignore if str(p) not in ("", "."))


def model_name(root: Path) -> str:
    """The model path's basename (spec §6.5): ``subject[0].name``, and a single file's resource name."""
    name = Path(root).name
    return name if name not in ("", ".", "..") else Path(root).resolve().name


def hash_model(root: Path, ignore: Iterable[PurePosixPath | str] = (), *, git_paths: bool = True) -> dict[str, str]:
    """``{resource name: hex SHA-256}`` for the model at *root* (a file or a directory).

    ``git_paths=False`` hashes ``.git*`` entries too (``--no-ignore-git-paths``).
    """
    root = Path(root)
    mode = os.lstat(root).st_mode
    if stat.S_ISLNK(mode):
        raise UnsafeResourceName("the model path is a symbolic link (not allowed)")
    if stat.S_ISREG(mode):
        return {_utf8(model_name(root)): sha256_file(root)}
    if not stat.S_ISDIR(mode):
        raise UnsafeResourceName("the model path is neither a regular file nor a directory")
    skip = [PurePosixPath(p) for p in (*(GIT_PATHS if git_paths else ()), *ignore)]
    found: dict[str, str] = {}
    for directory, subdirs, files in os.walk(root, followlinks=False):
        rel_dir = PurePosixPath(Path(directory).relative_to(root).as_posix())
        subdirs[:] = sorted(d for d in subdirs if not _ignored(rel_dir / d, skip) and _plain_dir(Path(directory), d))
        for name in sorted(files):
            rel = rel_dir / name
            if _ignored(rel, skip):
                continue
            if not stat.S_ISREG(os.lstat(Path(directory) / name).st_mode):
                raise UnsafeResourceName(f"model file {str(rel)!a} is a symbolic link or not a regular file")
            found[_utf8(str(rel))] = sha256_file(Path(directory) / name)
    return found


def _utf8(name: str) -> str:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafeResourceName(f"model file name {name!a} is not valid UTF-8") from None
    return name


def _plain_dir(parent: Path, name: str) -> bool:
    if stat.S_ISLNK(os.lstat(parent / name).st_mode):
        raise UnsafeResourceName(f"model directory entry {name!a} is a symbolic link (not allowed)")
    return True
