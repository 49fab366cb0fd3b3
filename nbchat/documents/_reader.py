"""Course readers: the documents an administrator gives every chat of a class (policy ``course_reader``).

Files and folders (searched for the endings nbchat converts, not recursively below the first level of folders
named) are converted once per process and kept while unchanged on disk (path, modification time, size).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ._extract import DOCUMENT_SUFFIXES, convert
from ._model import Document, DocumentError

__all__ = ["MAX_READER_FILES", "reader_documents"]

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

MAX_READER_FILES = 200  # files of a course reader converted at most (the first by name)
_cache: dict[tuple[str, float, int], Document] = {}
_lock = threading.Lock()


def reader_documents(paths: tuple[str, ...] | list[str]) -> tuple[list[Document], list[str]]:
    """The course reader's documents, and a line for each file that could not be used.

    Parameters
    ----------
    paths : sequence of str
        Files or folders (``~`` is expanded); a folder contributes its files with a known ending, by name.

    Returns
    -------
    (list of Document, list of str)
        The converted documents (cached while the files are unchanged) and the problems (a missing path, a file
        that does not convert), so one broken file does not stop every chat of a class.
    """
    files: list[Path] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in DOCUMENT_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"{raw}: no such file or folder")
    if len(files) > MAX_READER_FILES:
        problems.append(f"{len(files)} files: only the first {MAX_READER_FILES} are searched")
        files = files[:MAX_READER_FILES]
    documents: list[Document] = []
    for path in files:
        try:
            stat = path.stat()
            key = (str(path.resolve()), stat.st_mtime, stat.st_size)
            with _lock:
                doc = _cache.get(key)
            if doc is None:
                doc = convert(path.read_bytes(), path.name)
                with _lock:
                    _cache[key] = doc
            documents.append(doc)
        except (OSError, DocumentError) as exc:
            problems.append(f"{path.name}: {exc}")
            logger.warning("course reader: %s: %s", path.name, exc)
    return documents, problems
