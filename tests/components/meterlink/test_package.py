"""Checks hassfest and HACS would make, and the rules the package keeps."""

from __future__ import annotations

import ast
import json
from pathlib import Path
import re

import voluptuous as vol
import yaml

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.systems import SYSTEMS

ROOT = Path(__file__).parents[3]
PACKAGE = ROOT / "custom_components" / "meterlink"


def load_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_translations_are_a_copy_of_strings() -> None:
    assert (PACKAGE / "translations" / "en.json").read_bytes() == (
        PACKAGE / "strings.json"
    ).read_bytes()


def test_manifest_is_complete_and_sorted() -> None:
    manifest = load_json(PACKAGE / "manifest.json")
    for key in (
        "domain",
        "name",
        "version",
        "codeowners",
        "documentation",
        "issue_tracker",
        "requirements",
        "config_flow",
        "iot_class",
        "integration_type",
        "loggers",
    ):
        assert key in manifest, key
    assert manifest["domain"] == DOMAIN
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    # requirements are ranges, and requirements.txt says the same
    for req in manifest["requirements"]:
        assert re.search(r">=|~=|<", req), req
    listed = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert sorted(listed) == sorted(manifest["requirements"])


def test_requirements_coexist_with_home_assistant_pins() -> None:
    """Every requirement admits the version Home Assistant core pins for it."""
    from packaging.requirements import Requirement  # noqa: PLC0415

    pins = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    manifest = load_json(PACKAGE / "manifest.json")
    for raw in manifest["requirements"]:
        req = Requirement(raw)
        if req.name.lower() in pins:
            assert req.specifier.contains(pins[req.name.lower()]), raw


def test_hacs_json() -> None:
    hacs = load_json(ROOT / "hacs.json")
    assert hacs["name"] == "MeterLink"
    assert hacs["render_readme"] is True
    assert re.fullmatch(r"\d{4}\.\d+\.\d+", hacs["homeassistant"])
    assert (ROOT / "info.md").is_file()


def test_services_yaml_matches_strings_and_registrations() -> None:
    services = yaml.safe_load((PACKAGE / "services.yaml").read_text())
    strings = load_json(PACKAGE / "strings.json")
    registered = {a.name for s in SYSTEMS.values() for a in s.actions}
    assert set(services) == registered == set(strings["services"])
    for name, spec in services.items():
        assert set(spec["fields"]) == set(strings["services"][name]["fields"]), name


def _translation_keys_in_code() -> set[str]:
    keys: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.keyword)
                and node.arg == "translation_key"
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                keys.add(node.value.value)
    return keys


def test_every_translation_key_exists() -> None:
    strings = load_json(PACKAGE / "strings.json")
    known = (
        set(strings["exceptions"])
        | set(strings["issues"])
        | set(strings["selector"])
        | {k for platform in strings["entity"].values() for k in platform}
    )
    missing = _translation_keys_in_code() - known
    assert not missing


def test_error_translation_keys_exist() -> None:
    """error_translation() may return any of these; each needs an exception text."""
    strings = load_json(PACKAGE / "strings.json")
    for key in (
        "invalid_auth",
        "cannot_connect",
        "timeout",
        "malformed_response",
        "device_error",
        "unknown_error",
    ):
        assert key in strings["exceptions"]


def test_menu_lists_every_system() -> None:
    strings = load_json(PACKAGE / "strings.json")
    assert set(strings["config"]["step"]["user"]["menu_options"]) == set(SYSTEMS)


def test_protocols_never_import_homeassistant() -> None:
    for path in (PACKAGE / "protocols").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith("homeassistant"), f"{path}: imports {name}"


def test_every_platform_sets_parallel_updates() -> None:
    for system in SYSTEMS.values():
        for platform in system.platforms:
            source = (PACKAGE / f"{platform.value}.py").read_text()
            assert re.search(r"^PARALLEL_UPDATES = \d+$", source, re.MULTILINE), platform


def test_service_schemas_are_voluptuous() -> None:
    for system in SYSTEMS.values():
        for action in system.actions:
            assert isinstance(action.schema, vol.Schema)


QUALITY_RULES = {
    "action-setup", "appropriate-polling", "brands", "common-modules",
    "config-flow-test-coverage", "config-flow", "dependency-transparency", "docs-actions",
    "docs-high-level-description", "docs-installation-instructions", "docs-removal-instructions",
    "entity-event-setup", "entity-unique-id", "has-entity-name", "runtime-data",
    "test-before-configure", "test-before-setup", "unique-config-entry", "docs-triggers",
    "docs-conditions", "action-exceptions", "config-entry-unloading",
    "docs-configuration-parameters", "docs-installation-parameters", "entity-unavailable",
    "integration-owner", "log-when-unavailable", "parallel-updates", "reauthentication-flow",
    "test-coverage", "devices", "diagnostics", "discovery-update-info", "discovery",
    "docs-data-update", "docs-examples", "docs-known-limitations", "docs-supported-devices",
    "docs-supported-functions", "docs-troubleshooting", "docs-use-cases", "dynamic-devices",
    "entity-category", "entity-device-class", "entity-disabled-by-default",
    "entity-translations", "exception-translations", "icon-translations",
    "reconfiguration-flow", "repair-issues", "stale-devices", "async-dependency",
    "inject-websession", "strict-typing",
}  # fmt: skip


def test_quality_scale_lists_every_rule() -> None:
    scale = yaml.safe_load((PACKAGE / "quality_scale.yaml").read_text())["rules"]
    assert set(scale) == QUALITY_RULES
    for rule, status in scale.items():
        value = status if isinstance(status, str) else status["status"]
        assert value in {"done", "todo", "exempt"}, rule
        if value != "done":
            assert isinstance(status, dict), f"{rule}: say why"
            assert status.get("comment"), f"{rule}: say why"
