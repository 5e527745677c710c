"""The project's git state, as a sweep records it: the commit, and whether the tree was dirty."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from ksweep.contract.project import PROJECT_ROOT


def _git(*args: str, root: Path = PROJECT_ROOT) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_commit(root: Path = PROJECT_ROOT) -> str | None:
    """The project's commit (HEAD), or None outside a git checkout."""
    return (_git("rev-parse", "HEAD", root=root) or "").strip() or None


def git_state(root: Path = PROJECT_ROOT) -> dict:
    """The commit, and whether the working tree differs from it (with a hash of the difference)."""
    commit = git_commit(root)
    if commit is None:
        return {"git_commit": None, "git_dirty": None, "git_diff_sha256": None}
    diff = _git("diff", "HEAD", root=root) or ""
    untracked = _git("ls-files", "--others", "--exclude-standard", root=root) or ""
    dirty = bool(diff.strip() or untracked.strip())
    digest = hashlib.sha256((diff + untracked).encode()).hexdigest()[:16] if dirty else None
    return {"git_commit": commit, "git_dirty": dirty, "git_diff_sha256": digest}
