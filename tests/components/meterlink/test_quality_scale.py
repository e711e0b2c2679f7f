"""quality_scale.yaml: every rule marked done holds where a test can check it.

Each rule marked done either has a check here (static, on the source and the translations) or a
reason in ``NOT_CHECKABLE`` why no test can check it (documentation and process rules: the
README sections they point at are checked to exist). Entity rules (unique ids, has_entity_name,
translated names, devices, typed runtime data) are checked on real entries of every device type
by :func:`.quality.assert_entry_follows_the_quality_scale`, which each type's snapshot test calls.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
import json
from pathlib import Path
import re
from typing import Any

import pytest
import yaml

from custom_components.meterlink.config_flow import MeterLinkConfigFlow
from custom_components.meterlink.const import DOMAIN, TO_REDACT
from custom_components.meterlink.systems import SYSTEMS

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "custom_components" / DOMAIN
TESTS = ROOT / "tests" / "components" / DOMAIN
SCALE: dict[str, Any] = yaml.safe_load((PACKAGE / "quality_scale.yaml").read_text())["rules"]
STRINGS: dict[str, Any] = json.loads((PACKAGE / "strings.json").read_text())
README = (ROOT / "README.md").read_text()
# device types whose devices take credentials (SCADA channels have none)
WITH_CREDENTIALS = ("dcs", "dlms", "e3dc", "ekm")
HA_ERRORS = {
    "HomeAssistantError",
    "ServiceValidationError",
    "ConfigEntryError",
    "ConfigEntryNotReady",
    "ConfigEntryAuthFailed",
    "UpdateFailed",
}


def _status(rule: str) -> str:
    value = SCALE[rule]
    return value if isinstance(value, str) else str(value["status"])


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "protocols" not in p.parts)


def _test_names(pattern: str) -> set[str]:
    """Names of test functions in tests/components/meterlink matching ``pattern``."""
    found = set()
    for path in TESTS.glob("test_*.py"):
        found |= {
            f"{path.stem}::{name}"
            for name in re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE)
            if re.search(pattern, name)
        }
    return found


def _tests_of(system: str, pattern: str) -> set[str]:
    """Tests of one device type (its test_<type>_*.py files; DCS flows are test_config_flow)."""
    return {
        n
        for n in _test_names(pattern)
        if n.startswith(f"test_{system}_")
        or (system == "dcs" and n.startswith("test_config_flow::"))
    }


def _readme_has(*headings: str) -> None:
    titles = {
        line.lstrip("#").strip().lower() for line in README.splitlines() if line.startswith("#")
    }
    for heading in headings:
        assert any(heading.lower() in title for title in titles), f"README: no '{heading}' section"


# -- checks ------------------------------------------------------------------------------------


def check_entity_rules() -> None:
    """Every type's snapshot test runs the entity checks on a real entry."""
    for system in SYSTEMS:
        source = (TESTS / f"test_{system}_snapshots.py").read_text()
        assert "assert_entry_follows_the_quality_scale(hass, entry)" in source, system


def check_reauth() -> None:
    for system in WITH_CREDENTIALS:
        assert hasattr(MeterLinkConfigFlow, f"async_step_{system}_reauth"), system
        assert f"{system}_reauth_confirm" in STRINGS["config"]["step"], system
        tests = _tests_of(system, "reauth")
        assert tests, f"{system}: no reauth test"
    assert "reauth_successful" in STRINGS["config"]["abort"]


def check_reconfigure() -> None:
    for system in SYSTEMS:
        assert hasattr(MeterLinkConfigFlow, f"async_step_{system}_reconfigure"), system
        tests = _tests_of(system, "reconfigure")
        assert tests, f"{system}: no reconfigure test"
    assert "reconfigure_successful" in STRINGS["config"]["abort"]


def check_unique_config_entry() -> None:
    for system in SYSTEMS:
        source = (PACKAGE / "systems" / system / "flow.py").read_text()
        assert "async_set_unique_id" in source, system
        # EKM compares the bus URL itself and aborts with its own reason (the bus is in use)
        assert re.search(r"_abort_if_unique_id_configured|reason=\"\w*configured\"", source), system
    assert "already_configured" in STRINGS["config"]["abort"]


def check_config_entry_unloading() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    names = {n.name for n in tree.body if isinstance(n, ast.AsyncFunctionDef)}
    assert "async_unload_entry" in names
    assert _test_names("unload"), "no unload test"


def check_diagnostics() -> None:
    tree = ast.parse((PACKAGE / "diagnostics.py").read_text())
    names = {n.name for n in tree.body if isinstance(n, ast.AsyncFunctionDef)}
    assert "async_get_config_entry_diagnostics" in names
    for secret in ("password", "key"):
        assert any(secret in field for field in TO_REDACT), secret
    for system in SYSTEMS:
        assert _tests_of(system, "diagnostics"), f"{system}: no diagnostics test"


def _raises_without_translation(paths: list[Path]) -> list[str]:
    """`raise <HA error>(...)` calls in these files that give no translation_key."""
    bad = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in HA_ERRORS and not any(k.arg == "translation_key" for k in node.exc.keywords):
                bad.append(f"{path.name}:{node.lineno} {name}")
    return bad


def check_exception_translations() -> None:
    assert not _raises_without_translation(_sources())
    for key, value in STRINGS["exceptions"].items():
        assert value.get("message"), key


def check_action_exceptions() -> None:
    check_exception_translations()
    assert _test_names(r"raise|error|invalid|unknown_entry|not_loaded"), "no action error test"


def check_icon_translations() -> None:
    """Icons come from icons.json: no icon set in code."""
    for path in _sources():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "icon":
                raise AssertionError(f"{path.relative_to(ROOT)}: icon= in code")
            if isinstance(node, ast.Attribute) and node.attr == "_attr_icon":
                raise AssertionError(f"{path.relative_to(ROOT)}: _attr_icon in code")
    icons = json.loads((PACKAGE / "icons.json").read_text())
    assert icons.get("entity")
    assert icons.get("services")


def check_parallel_updates() -> None:
    for system in SYSTEMS.values():
        for platform in system.platforms:
            source = (PACKAGE / f"{platform.value}.py").read_text()
            assert re.search(r"^PARALLEL_UPDATES = \d+$", source, re.MULTILINE), platform


def check_entity_translations() -> None:
    check_entity_rules()
    for platform, entities in STRINGS["entity"].items():
        for key, value in entities.items():
            assert value.get("name") or value.get("state"), f"{platform}.{key}"


def check_runtime_data() -> None:
    check_entity_rules()
    source = (PACKAGE / "__init__.py").read_text()
    assert "entry.runtime_data = " in source
    assert "hass.data[" not in "".join(p.read_text() for p in _sources())


def check_entity_unavailable() -> None:
    assert _test_names("unavailable"), "no test of unavailable entities"


def check_log_when_unavailable() -> None:
    assert _test_names(r"log"), "no test of the unavailable / back log lines"


def check_repair_issues() -> None:
    assert STRINGS.get("issues"), "no repair issue translated"
    assert _test_names(r"issue|repair"), "no repair issue test"


def check_action_setup() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    names = {n.name for n in tree.body if isinstance(n, ast.AsyncFunctionDef)}
    assert "async_setup" in names


def check_strict_typing() -> None:
    assert "mypy --strict custom_components/" in (ROOT / "scripts" / "test").read_text()


def check_test_before_setup() -> None:
    assert _test_names(r"not_ready|retry|setup_fails|cannot_connect"), "no failed-setup test"


def check_test_before_configure() -> None:
    for system in SYSTEMS:
        tests = _tests_of(system, "cannot_connect|error|wrong|invalid|refused")
        assert tests, f"{system}: no flow test of a failed connection test"


def check_inject_websession() -> None:
    source = "".join(p.read_text() for p in (PACKAGE / "systems" / "dcs").glob("*.py"))
    assert "async_get_clientsession" in source or "async_create_clientsession" in source


def check_docs_installation() -> None:
    _readme_has("Installation", "HACS")


def check_docs_removal() -> None:
    _readme_has("Removal")


def check_docs_actions() -> None:
    for action in json.loads((PACKAGE / "strings.json").read_text())["services"]:
        assert f"{DOMAIN}.{action}" in README or f"`{action}`" in README, action


def check_docs_troubleshooting() -> None:
    _readme_has("Troubleshooting")


def check_docs_known_limitations() -> None:
    _readme_has("Known limitations")


def check_docs_data_update() -> None:
    _readme_has("How data is updated")


def check_docs_supported_devices() -> None:
    _readme_has("Supported servers", "EKM Omnimeter", "E3/DC", "DLMS/COSEM", "Modbus")


CHECKS: dict[str, Callable[[], None]] = {
    "action-setup": check_action_setup,
    "action-exceptions": check_action_exceptions,
    "config-entry-unloading": check_config_entry_unloading,
    "devices": check_entity_rules,
    "diagnostics": check_diagnostics,
    "docs-actions": check_docs_actions,
    "docs-data-update": check_docs_data_update,
    "docs-installation-instructions": check_docs_installation,
    "docs-known-limitations": check_docs_known_limitations,
    "docs-removal-instructions": check_docs_removal,
    "docs-supported-devices": check_docs_supported_devices,
    "docs-troubleshooting": check_docs_troubleshooting,
    "entity-translations": check_entity_translations,
    "entity-unavailable": check_entity_unavailable,
    "entity-unique-id": check_entity_rules,
    "exception-translations": check_exception_translations,
    "has-entity-name": check_entity_rules,
    "icon-translations": check_icon_translations,
    "inject-websession": check_inject_websession,
    "log-when-unavailable": check_log_when_unavailable,
    "parallel-updates": check_parallel_updates,
    "reauthentication-flow": check_reauth,
    "reconfiguration-flow": check_reconfigure,
    "repair-issues": check_repair_issues,
    "runtime-data": check_runtime_data,
    "strict-typing": check_strict_typing,
    "test-before-configure": check_test_before_configure,
    "test-before-setup": check_test_before_setup,
    "unique-config-entry": check_unique_config_entry,
}

# done rules that no test can check, and why
NOT_CHECKABLE: dict[str, str] = {
    "appropriate-polling": "a judgement on each device's cadence (defaults are in each system)",
    "common-modules": "a code-organisation rule (coordinator.py, entity.py)",
    "config-flow": "every flow test in tests/components/meterlink drives the UI flows",
    "docs-configuration-parameters": "prose in each type's README section",
    "docs-installation-parameters": "prose in each type's README section",
    "docs-high-level-description": "prose at the top of the README",
    "docs-examples": "prose (automation examples) in the README",
    "docs-supported-functions": "prose in each type's README section",
    "docs-use-cases": "prose in the README introduction",
    "entity-category": "set per description; the snapshots record each entity's category",
    "entity-device-class": "set per description; the snapshots record each device class",
    "entity-disabled-by-default": "set per description; the snapshots record disabled_by",
    "integration-owner": "manifest codeowners, checked by tests/test_hassfest.py",
    "async-dependency": "the protocol libraries are asyncio clients of our own",
}


def test_every_done_rule_is_checked_or_says_why() -> None:
    done = {rule for rule in SCALE if _status(rule) == "done"}
    unaccounted = done - set(CHECKS) - set(NOT_CHECKABLE)
    assert not unaccounted, f"done rules without a check or a reason: {sorted(unaccounted)}"
    stale = (set(CHECKS) | set(NOT_CHECKABLE)) - set(SCALE)
    assert not stale, stale


@pytest.mark.parametrize("rule", sorted(CHECKS))
def test_done_rule_holds(rule: str) -> None:
    if _status(rule) != "done":
        pytest.skip(f"{rule} is {_status(rule)} in quality_scale.yaml")
    CHECKS[rule]()


def test_a_raise_without_translation_is_caught(tmp_path: Path) -> None:
    """The exception-translations check can fail."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f():\n"
        "    raise HomeAssistantError('plain text')\n"
        "def g():\n"
        "    raise ServiceValidationError(translation_domain='x', translation_key='y')\n"
    )
    assert _raises_without_translation([bad]) == ["bad.py:2 HomeAssistantError"]
