"""Finding a theme folder: the site's own ``themes/NAME`` first, then the themes bundled with sitegen."""

from __future__ import annotations

from pathlib import Path

from .errors import InputError, error

_PACKAGE = Path(__file__).resolve().parent


def bundled_themes_dirs() -> list[Path]:
    """Installed wheels carry themes inside the package; a source checkout has them at the top."""
    return [_PACKAGE / "themes", _PACKAGE.parent / "themes"]


def find_theme(site_dir: Path, name: str) -> Path:
    candidates = [site_dir / "themes" / name, *(folder / name for folder in bundled_themes_dirs())]
    for candidate in candidates:
        if (candidate / "templates").is_dir():
            return candidate
    raise InputError(
        [
            error(
                site_dir / "sitegen.yaml",
                None,
                f"theme {name!r} not found; looked in {', '.join(str(c) for c in candidates)}",
            )
        ]
    )
