"""Finding a theme folder: the site's own ``themes/NAME`` first, then the themes bundled with sitegen."""

from __future__ import annotations

from pathlib import Path

from .config import CONFIG_FILE
from .errors import InputError, error, shown_path
from .yamltext import top_level_key_lines

_PACKAGE = Path(__file__).resolve().parent


def bundled_themes_dirs() -> list[Path]:
    """Installed wheels carry themes inside the package; a source checkout has them at the top."""
    return [_PACKAGE / "themes", _PACKAGE.parent / "themes"]


def find_theme(site_dir: Path, name: str) -> Path:
    candidates = [site_dir / "themes" / name, *(folder / name for folder in bundled_themes_dirs())]
    for candidate in candidates:
        if (candidate / "templates").is_dir():
            return candidate
    config = site_dir / CONFIG_FILE
    try:
        line = top_level_key_lines(config.read_text(encoding="utf-8-sig")).get("theme", 1)
    except (OSError, UnicodeDecodeError):
        line = 1
    raise InputError(
        [
            error(
                shown_path(config),
                line,
                f"theme {name!r} not found; looked in {', '.join(str(c) for c in candidates)}",
            )
        ]
    )


def template_dirs(site_dir: Path, theme_dir: Path) -> tuple[Path, ...]:
    """The site's own templates, then its theme's, then the default theme's: a theme made before
    sitegen gained a page kind (authors, trending, the e-mail digest) still builds, with the
    default's template for that page."""
    fallbacks = [folder / "default" / "templates" for folder in bundled_themes_dirs()]
    default = next((folder for folder in fallbacks if folder.is_dir()), None)
    folders = [site_dir / "templates", theme_dir / "templates"]
    if default is not None and default.resolve() != (theme_dir / "templates").resolve():
        folders.append(default)
    return tuple(folders)
