"""Stage stamps of `accel build`. Each stage writes one folder under build/<board>/, keyed by a
sha256 of everything it was made from (accel.core.cache.key: model bytes, parameters, the code that made
it). The folder is written in a temporary sibling (accel.core.atomic) and swapped in by rename with the
stamp `.accel-stage.json` inside: a folder is either the complete output of its key or absent,
whatever interrupted a run.
"""

import json
import os
from pathlib import Path

from accel.core import atomic

STAMP = ".accel-stage.json"


def stamp(folder) -> dict | None:
    try:
        return json.loads((Path(folder) / STAMP).read_text())
    except (OSError, ValueError):
        return None


def lookup(folder, want: str) -> dict | None:
    """The stamp of folder when it holds the output of key `want`, else None."""
    s = stamp(folder)
    return s if s and s.get("key") == want else None


def commit(tmp: Path, folder, info: dict) -> None:
    """Write the stamp into tmp and put tmp in folder's place (the old one removed)."""
    (tmp / STAMP).write_text(json.dumps(info, indent=1, default=str) + "\n")
    atomic.swap_in(tmp, folder)


def update_stamp(folder, info: dict) -> None:
    path = Path(folder) / STAMP
    tmp = path.with_name(STAMP + ".tmp")
    tmp.write_text(json.dumps(info, indent=1, default=str) + "\n")
    os.replace(tmp, path)
