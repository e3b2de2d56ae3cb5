"""An evaluation archive shared by calibration and the reader benchmarks: every dev article
(and, when asked, the blind set's articles) in one index, the others acting as distractors
the way a user's archive works.

The archive is built once into ``bench/.cache/eval-archive-<hash>`` (the hash names the
article files and their sizes) and reused; building it embeds ~210 articles (~1-2 minutes
on 2 cores).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

from config.environment import use_offline_environment

use_offline_environment()

ROOT = Path(__file__).resolve().parent.parent
DEV_DIR = ROOT.parent / "shared" / "data" / "dev"
BLIND_DIR = ROOT / "bench" / "blind"
SAMPLE_DIR = ROOT / "corpus" / "sample"

__all__ = ["open_eval_archive", "ROOT", "DEV_DIR", "BLIND_DIR", "SAMPLE_DIR"]


def open_eval_archive(article_files: Sequence[Path], settings=None):  # IndexBackend
    """An archive holding every article of ``article_files`` (JSON Lines), built on first use.

    Raises ``FileNotFoundError`` naming a missing file.
    """
    from config.settings import load_settings
    from corpus.loaders import ArticleFactory, load_inputs
    from index.factory import open_backend

    for f in article_files:
        if not Path(f).exists():
            raise FileNotFoundError(f"{f}: no such article file")
    key = hashlib.sha1("|".join(f"{Path(f).resolve().name}:{Path(f).stat().st_size}" for f in article_files).encode()).hexdigest()[:10]
    data_dir = ROOT / "bench" / ".cache" / f"eval-archive-{key}"
    cfg = settings or load_settings()
    done = data_dir / ".complete"
    archive = open_backend(cfg, data_dir=data_dir)
    if not done.exists():
        factory = ArticleFactory(max_bytes=cfg.ingest.max_file_bytes)
        archive.add(load_inputs([str(f) for f in article_files], factory))
        done.write_text("ok\n")
    return archive
