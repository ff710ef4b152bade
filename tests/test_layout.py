"""The shape of the project: the source root, and every route saying who may use it."""

import sysconfig
from pathlib import Path

from samverkan.access import access_of
from samverkan.settings import PROJECT_ROOT


def test_standard_library_platform_module_is_the_one_imported():
    import platform

    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    assert Path(platform.__file__).resolve().parent == stdlib
    assert callable(platform.python_version)
    assert "samverkan" not in platform.__file__


def test_platform_folder_is_a_source_root_not_a_package():
    assert not (PROJECT_ROOT / "platform" / "__init__.py").exists()
    assert (PROJECT_ROOT / "platform" / "samverkan" / "__init__.py").exists()


def test_every_route_declares_who_may_use_it(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":  # Flask's own: public CSS and script only
            continue
        if access_of(app.view_functions[rule.endpoint]) is None:
            undeclared.append(f"{rule.rule} ({rule.endpoint})")
    assert undeclared == []
