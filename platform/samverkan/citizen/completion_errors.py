"""The citizen's completion from the status page: what its refusals say. The routes are in
views.py; the rules in casework/operations.py and casework/schemas.py."""

from flask import current_app
from flask_babel import gettext as _

from samverkan.catalogue import scanning
from samverkan.catalogue.uploads import safe_display_name


def too_large() -> dict[str, list[str]]:
    total = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    return {
        "completion_files": [
            _(
                "Filerna var tillsammans för stora för att tas emot: högst %(total)s MB "
                "sammanlagt. Välj mindre filer. Det du skrev skickades inte heller: skriv "
                "det igen.",
                total=total,
            )
        ]
    }


def unscannable(messages: dict) -> bool:
    files = messages.get("completion_files")
    return isinstance(files, dict) and any(scanning.UNAVAILABLE in m for m in files.values())


def file_names(chosen: list) -> list[str]:
    return [safe_display_name(f.filename) for f in chosen]


def by_field(messages: dict, chosen: list) -> dict[str, list[str]]:
    """The schema's messages by field, each file's named by the file (a list's errors come
    by position)."""
    errors = {"completion": [_(m) for m in messages.get("completion", [])]}  # the text's
    files = messages.get("completion_files", [])
    if isinstance(files, dict):
        errors["completion_files"] = [
            f"{safe_display_name(chosen[i].filename)}: {' '.join(_(m) for m in files[i])}"
            for i in sorted(files)
        ]
        if len(chosen) > 1:  # the browser has forgotten the good ones along with the rest
            errors["completion_files"].append(_("Inga filer skickades: välj alla igen."))
    else:
        errors["completion_files"] = [_(m) for m in files]
    return {name: shown for name, shown in errors.items() if shown}
