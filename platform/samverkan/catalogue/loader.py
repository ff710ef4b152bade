"""Reading services/ from disk: every definition validated before anything is stored."""

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from marshmallow import Schema, ValidationError, fields, validate

from samverkan.catalogue.definition_schema import DefinitionSchema, LocalText, flatten_errors


class CategorySchema(Schema):
    title = fields.Nested(LocalText, required=True)
    order = fields.Integer(load_default=100, validate=validate.Range(min=0))


@dataclass
class LoadedDefinition:
    path: Path
    content: dict

    @property
    def slug(self) -> str:
        return self.content["slug"]

    @property
    def version(self) -> int:
        return self.content["version"]

    @property
    def checksum(self) -> str:
        return definition_checksum(self.content)


def definition_checksum(content: dict) -> str:
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_toml(path: Path, errors: list[str], label: str) -> dict | None:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        errors.append(f"{label}: not valid TOML: {exc}")
    except OSError as exc:
        errors.append(f"{label}: cannot be read: {exc.strerror}")
    return None


def load_categories(services_dir: Path, errors: list[str]) -> dict[str, dict]:
    path = services_dir / "categories.toml"
    label = _label(path, services_dir)
    if not path.exists():
        errors.append(f"{label}: missing; it lists the categories e-services are grouped under")
        return {}
    raw = read_toml(path, errors, label)
    if raw is None:
        return {}
    categories = {}
    for key, value in raw.items():
        try:
            categories[key] = CategorySchema().load(value if isinstance(value, dict) else {})
        except ValidationError as exc:
            for where, message in flatten_errors(exc.messages, key):
                errors.append(f"{label}: {where}: {message}")
    return categories


def load_definitions(services_dir: Path) -> tuple[dict, dict[str, LoadedDefinition], list[str]]:
    """Categories and definitions by slug, plus every error found, each naming its file."""
    errors: list[str] = []
    if not services_dir.is_dir():
        return {}, {}, [f"{services_dir}: the services folder does not exist"]
    categories = load_categories(services_dir, errors)
    definitions: dict[str, LoadedDefinition] = {}
    for folder in sorted(p for p in services_dir.iterdir() if p.is_dir()):
        path = folder / "definition.toml"
        label = _label(path, services_dir)
        if not path.exists():
            errors.append(f"{label}: missing; every e-service folder needs a definition.toml")
            continue
        raw = read_toml(path, errors, label)
        if raw is None:
            continue
        try:
            content = DefinitionSchema().load(raw)
        except ValidationError as exc:
            errors.extend(f"{label}: {w}: {m}" for w, m in flatten_errors(exc.messages))
            continue
        if content["slug"] != folder.name:
            errors.append(f"{label}: slug: '{content['slug']}' differs from the folder name")
            continue
        if content["category"] not in categories:
            errors.append(
                f"{label}: category: '{content['category']}' is not in services/categories.toml"
            )
            continue
        definitions[content["slug"]] = LoadedDefinition(path=path, content=content)
    return categories, definitions, errors


def _label(path: Path, root: Path) -> str:
    try:
        return f"{root.name}/{path.relative_to(root)}"
    except ValueError:  # pragma: no cover - only when a path lies outside its folder
        return str(path)
