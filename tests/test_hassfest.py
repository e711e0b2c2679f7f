"""What Home Assistant's hassfest checks for a custom integration, checked here.

hassfest cannot run on a custom integration outside a core checkout, so these tests implement
its rules: manifest.json, services.yaml, strings.json / translations/en.json, icons.json and
config_flow.py. They also check hacs.json. The rules come from home-assistant/core
``script/hassfest/``: manifest.py (commit 7d56dcb), services.py (1404156), translations.py,
icons.py and config_flow.py. The checks are written here from those rules, not copied. Newer
keys that hassfest accepts and that the installed Home Assistant 2025.4 uses are allowed too:
``config_subentries`` in strings.json, and ``{"service": icon, "sections": ...}`` for action
icons.

Every test here is static: no Home Assistant instance, no simulator.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
import json
from pathlib import Path
import re
from typing import Any

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from homeassistant.const import Platform
from homeassistant.helpers import selector
import homeassistant.helpers.config_validation as cv
from packaging.requirements import Requirement
import pytest
import voluptuous as vol
import yaml

from custom_components.meterlink.const import DOMAIN
from custom_components.meterlink.systems import SYSTEMS

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "custom_components" / DOMAIN
HA_PACKAGE = Path(vol.__file__).parents[1] / "homeassistant"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


MANIFEST = load_json(PACKAGE / "manifest.json")
STRINGS = load_json(PACKAGE / "strings.json")
ICONS = load_json(PACKAGE / "icons.json")
SERVICES = yaml.safe_load((PACKAGE / "services.yaml").read_text(encoding="utf-8"))


def fails(schema: vol.Schema | Any, value: Any) -> str | None:
    """Return voluptuous' complaint about ``value``, or None."""
    try:
        schema(value)
    except vol.Invalid as err:
        return str(err)
    return None


# --- manifest.json -----------------------------------------------------------------------------

IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}
INTEGRATION_TYPES = {"device", "entity", "hardware", "helper", "hub", "service", "system"}
VERSION_STRATEGIES = [
    AwesomeVersionStrategy.CALVER,
    AwesomeVersionStrategy.SEMVER,
    AwesomeVersionStrategy.SIMPLEVER,
    AwesomeVersionStrategy.BUILDVER,
    AwesomeVersionStrategy.PEP440,
]


def _https_url(value: str) -> str:
    url = vol.Url()(value)
    if not url.startswith("https://"):
        raise vol.Invalid("documentation must be an https URL")
    if url.startswith("https://www.home-assistant.io/") and "/integrations/" not in url:
        raise vol.Invalid("home-assistant.io documentation lives under /integrations/")
    return str(url)


def _version(value: str) -> str:
    AwesomeVersion(value, ensure_strategy=VERSION_STRATEGIES)
    return value


def _upper(value: str) -> str:
    if value != value.upper():
        raise vol.Invalid("must be upper case")
    return value


def _lower(value: str) -> str:
    if value != value.lower():
        raise vol.Invalid("must be lower case")
    return value


MANIFEST_SCHEMA = vol.Schema(
    {
        vol.Required("domain"): str,
        vol.Required("name"): str,
        vol.Required("version"): vol.All(str, _version),  # required for custom integrations
        vol.Required("documentation"): _https_url,
        vol.Required("issue_tracker"): vol.Url(),
        vol.Required("codeowners"): vol.All([vol.Match(r"^@[\w.-]+(/[\w.-]+)?$")], vol.Length(1)),
        vol.Required("iot_class"): vol.In(IOT_CLASSES),
        vol.Required("integration_type"): vol.In(INTEGRATION_TYPES),
        vol.Required("config_flow"): True,
        vol.Optional("requirements"): [str],
        vol.Optional("dependencies"): [str],
        vol.Optional("after_dependencies"): [str],
        vol.Optional("loggers"): [str],
        vol.Optional("single_config_entry"): bool,
        vol.Optional("import_executor"): bool,
        vol.Optional("disabled"): str,
        vol.Optional("quality_scale"): vol.In(["internal", "silver", "gold", "platinum"]),
        vol.Optional("mqtt"): [str],
        vol.Optional("homekit"): {vol.Optional("models"): [str]},
        vol.Optional("ssdp"): [vol.All(dict, vol.Length(min=1))],
        vol.Optional("zeroconf"): [
            vol.Any(str, vol.Schema({vol.Required("type"): str}, extra=vol.ALLOW_EXTRA))
        ],
        vol.Optional("dhcp"): [
            {
                vol.Optional("macaddress"): vol.All(str, _upper),
                vol.Optional("hostname"): vol.All(str, _lower),
                vol.Optional("registered_devices"): bool,
            }
        ],
        vol.Optional("usb"): [
            {
                vol.Optional("vid"): vol.All(str, _upper),
                vol.Optional("pid"): vol.All(str, _upper),
                vol.Optional("serial_number"): vol.All(str, _lower),
                vol.Optional("manufacturer"): vol.All(str, _lower),
                vol.Optional("description"): vol.All(str, _lower),
                vol.Optional("known_devices"): [str],
            }
        ],
        vol.Optional("bluetooth"): [dict],
    }
)
DISCOVERY_KEYS = {"bluetooth", "dhcp", "homekit", "mqtt", "ssdp", "usb", "zeroconf"}


def test_manifest_schema() -> None:
    assert fails(MANIFEST_SCHEMA, MANIFEST) is None
    assert MANIFEST["domain"] == PACKAGE.name == DOMAIN


def test_manifest_key_order() -> None:
    """domain, name, then alphabetical (hassfest's sort_manifest)."""
    keys = list(MANIFEST)
    assert keys == ["domain", "name", *sorted(k for k in keys if k not in {"domain", "name"})]


def test_manifest_domain_is_not_a_core_integration() -> None:
    assert not (HA_PACKAGE / "components" / DOMAIN).exists()


def test_manifest_dependencies_exist() -> None:
    deps = MANIFEST.get("dependencies", [])
    after = MANIFEST.get("after_dependencies", [])
    for dep in [*deps, *after]:
        assert dep != DOMAIN
        assert (HA_PACKAGE / "components" / dep / "manifest.json").is_file(), dep
    assert not set(deps) & set(after)
    assert len(set(deps)) == len(deps)
    assert len(set(after)) == len(after)


def test_manifest_requirements_are_pep508_ranges() -> None:
    names = set()
    for raw in MANIFEST.get("requirements", []):
        req = Requirement(raw)  # raises on a malformed requirement
        assert req.specifier, f"{raw}: give a version range"
        assert any(s.operator in {">=", "~=", "=="} for s in req.specifier), f"{raw}: lower bound"
        assert not req.url, f"{raw}: URLs are not allowed"
        assert req.name.lower() not in names, f"{raw}: listed twice"
        names.add(req.name.lower())


def test_manifest_loggers_name_our_package() -> None:
    assert f"custom_components.{DOMAIN}" in MANIFEST["loggers"]


def test_config_flow_module() -> None:
    """config_flow true needs config_flow.py with a ConfigFlow for the domain."""
    tree = ast.parse((PACKAGE / "config_flow.py").read_text(encoding="utf-8"))
    flows = [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(
            kw.arg == "domain" and isinstance(kw.value, ast.Name) and kw.value.id == "DOMAIN"
            for kw in node.keywords
        )
    ]
    assert len(flows) == 1
    source = "".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*flow.py"))
    if DISCOVERY_KEYS & set(MANIFEST) or "async_step_hassio" in source:
        # discoverable flows must set a unique id
        assert "self.async_set_unique_id" in source


# --- services.yaml -----------------------------------------------------------------------------


def _field_schema(*, targeted: bool) -> vol.Schema:
    schema: dict[Any, Any] = {
        vol.Optional("name"): str,
        vol.Optional("description"): str,
        vol.Optional("example"): vol.NotIn([None]),
        vol.Optional("default"): vol.NotIn([None]),
        vol.Optional("required"): bool,
        vol.Optional("advanced"): bool,
        vol.Optional("selector"): selector.validate_selector,
    }
    if targeted:
        schema[vol.Optional("filter")] = dict
    return vol.Schema(schema)


def _service_schema(*, targeted: bool) -> vol.Schema:
    field = _field_schema(targeted=targeted)
    section = vol.Schema(
        {
            vol.Optional("name"): str,
            vol.Optional("description"): str,
            vol.Optional("collapsed"): bool,
            vol.Required("fields"): {str: field},
        }
    )
    schema: dict[Any, Any] = {
        vol.Optional("name"): str,
        vol.Optional("description"): str,
        vol.Optional("fields"): {str: vol.Any(field, section)},
    }
    if targeted:
        schema[vol.Required("target")] = selector.TargetSelector.CONFIG_SCHEMA
    return vol.Schema(schema)


SERVICES_SCHEMA = vol.Schema(
    {cv.slug: vol.Any(None, _service_schema(targeted=True), _service_schema(targeted=False))}
)


def _fields(spec: dict[str, Any] | None) -> Iterator[tuple[str, dict[str, Any]]]:
    """Fields of a service, sections flattened."""
    for name, field in ((spec or {}).get("fields") or {}).items():
        if "fields" in field:
            yield from field["fields"].items()
        else:
            yield name, field


def test_services_yaml_schema() -> None:
    assert fails(SERVICES_SCHEMA, SERVICES) is None
    for name, spec in SERVICES.items():
        names = [field for field, _ in _fields(spec)]
        assert len(names) == len(set(names)), f"{name}: a field in two sections"


def _registered_in_code() -> set[str]:
    """Action names the code registers: each system's actions and any literal registration."""
    names = {action.name for system in SYSTEMS.values() for action in system.actions}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr
                in {"async_register", "register", "async_register_entity_service"}
                and len(node.args) >= 2
            ):
                name = (
                    node.args[1]
                    if node.func.attr != "async_register_entity_service"
                    else node.args[0]
                )
                if isinstance(name, ast.Constant):
                    names.add(name.value)
    return names


def test_every_registered_action_is_in_services_yaml_and_back() -> None:
    assert _registered_in_code() == set(SERVICES)


def test_every_action_and_field_is_translated() -> None:
    """Custom integrations read names from translations/en.json; ours has them all."""
    translated = STRINGS["services"]
    assert set(translated) == set(SERVICES)
    for name, spec in SERVICES.items():
        text = translated[name]
        assert text.get("name"), name
        assert text.get("description"), name
        fields = dict(_fields(spec))
        assert set(text.get("fields", {})) == set(fields), name
        for field, field_text in text.get("fields", {}).items():
            assert field_text.get("name"), f"{name}.{field}"
            assert field_text.get("description"), f"{name}.{field}"
        sections = [f for f, v in ((spec or {}).get("fields") or {}).items() if "fields" in v]
        for section in sections:
            assert text["sections"][section]["name"], f"{name}: section {section}"


def test_select_selector_translation_keys_exist() -> None:
    for name, spec in SERVICES.items():
        for field, field_spec in _fields(spec):
            config = (field_spec.get("selector") or {}).get("select") or {}
            if key := config.get("translation_key"):
                options = STRINGS["selector"][key]["options"]
                values = [o if isinstance(o, str) else o["value"] for o in config["options"]]
                assert set(values) <= set(options), f"{name}.{field}"


# --- strings.json ------------------------------------------------------------------------------

RE_TRANSLATION_KEY = re.compile(r"^(?!.*[_-]{2})(?![_-])[a-z0-9_-]+(?<![_-])$")
RE_REFERENCE = re.compile(r"\[%key:([^%]+)%\]")
RE_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def translation_text(value: Any) -> str:
    """A translated text: a string without HTML, padding, quoted or broken placeholders."""
    value = cv.string_with_no_html(value)  # Home Assistant's own check
    if value != value.strip():
        raise vol.Invalid("the string should not start or end with spaces")
    if re.search(r"'\{\w+\}'", value):
        raise vol.Invalid("placeholders should not be in single quotes")
    refs = RE_REFERENCE.findall(value)
    if refs and RE_REFERENCE.fullmatch(value) is None:
        raise vol.Invalid("a reference must be the whole string")
    if not refs:
        for name in RE_PLACEHOLDER.findall(value):
            if not re.fullmatch(r"[A-Za-z_]\w*", name):
                raise vol.Invalid(f"malformed placeholder {{{name}}}")
        if RE_PLACEHOLDER.sub("", value).count("{") or RE_PLACEHOLDER.sub("", value).count("}"):
            raise vol.Invalid("unbalanced braces")
    return value


def translation_key(value: Any) -> str:
    if not isinstance(value, str) or RE_TRANSLATION_KEY.match(value) is None:
        raise vol.Invalid(f"invalid translation key {value!r}: [a-z0-9-_]+, no edge _ or -")
    return value


def keyed(values: Any, keys: Any = translation_key) -> vol.All:  # a mapping with validated keys
    return vol.All(dict, vol.Schema({keys: values}))


def _data_entry(*, subentry: bool = False) -> vol.All:
    step = vol.Schema(
        {
            vol.Optional("title"): translation_text,
            vol.Optional("description"): translation_text,
            vol.Optional("data"): {str: translation_text},
            vol.Optional("data_description"): {str: translation_text},
            vol.Optional("menu_options"): {str: translation_text},
            vol.Optional("menu_option_descriptions"): {str: translation_text},
            vol.Optional("submit"): translation_text,
            vol.Optional("sections"): {
                str: {
                    vol.Optional("name"): translation_text,
                    vol.Optional("description"): translation_text,
                    vol.Optional("data"): {str: translation_text},
                    vol.Optional("data_description"): {str: translation_text},
                }
            },
        }
    )
    schema: dict[Any, Any] = {
        vol.Optional("flow_title"): translation_text,
        vol.Required("step"): {str: step},
        vol.Optional("error"): {str: translation_text},
        vol.Optional("abort"): {str: translation_text},
        vol.Optional("progress"): {str: translation_text},
        vol.Optional("create_entry"): {str: translation_text},
    }
    if subentry:
        schema[vol.Optional("initiate_flow")] = {
            vol.Optional("user"): translation_text,
            vol.Optional("reconfigure"): translation_text,
        }
        schema[vol.Optional("entry_type")] = translation_text

    def described_fields_exist(value: dict[str, Any]) -> dict[str, Any]:
        for step_id, info in value["step"].items():
            for key in info.get("data_description", {}):
                if key not in info.get("data", {}):
                    raise vol.Invalid(f"step {step_id}: data_description {key} is not in data")
        return value

    return vol.All(vol.Schema(schema), described_fields_exist)


STATE = keyed(translation_text)
ENTITY_TEXT = {
    vol.Optional("name"): translation_text,
    vol.Optional("state"): STATE,
    vol.Optional("state_attributes"): keyed(
        {vol.Optional("name"): translation_text, vol.Optional("state"): STATE}
    ),
    vol.Optional("unit_of_measurement"): translation_text,
}
STRINGS_SCHEMA = vol.Schema(
    {
        vol.Optional("title"): translation_text,
        vol.Optional("config"): _data_entry(),
        vol.Optional("options"): _data_entry(),
        vol.Optional("config_subentries"): keyed(_data_entry(subentry=True)),
        vol.Optional("selector"): keyed(
            {vol.Required("options"): keyed(translation_text)}, vol.Any("_", cv.slug)
        ),
        vol.Optional("device_automation"): {
            vol.Optional(k): {str: translation_text}
            for k in (
                "action_type",
                "condition_type",
                "trigger_type",
                "trigger_subtype",
                "extra_fields",
                "extra_fields_descriptions",
            )
        },
        vol.Optional("system_health"): {vol.Optional("info"): keyed(translation_text)},
        vol.Optional("issues"): keyed(
            vol.All(
                cv.has_at_least_one_key("description", "fix_flow"),
                vol.Schema(
                    {
                        vol.Required("title"): translation_text,
                        vol.Exclusive("description", "fixable"): translation_text,
                        vol.Exclusive("fix_flow", "fixable"): _data_entry(),
                    }
                ),
            ),
            str,
        ),
        vol.Optional("device"): keyed({vol.Optional("name"): translation_text}),
        vol.Optional("entity"): keyed(keyed(ENTITY_TEXT), vol.In([p.value for p in Platform])),
        vol.Optional("exceptions"): keyed({vol.Required("message"): translation_text}, cv.slug),
        vol.Optional("services"): keyed(
            {
                vol.Required("name"): translation_text,
                vol.Required("description"): translation_text,
                vol.Optional("fields"): keyed(
                    {
                        vol.Required("name"): translation_text,
                        vol.Required("description"): translation_text,
                        vol.Optional("example"): translation_text,
                    }
                ),
                vol.Optional("sections"): keyed(
                    {
                        vol.Required("name"): translation_text,
                        vol.Optional("description"): translation_text,
                    }
                ),
            }
        ),
        vol.Optional("common"): {cv.slug: translation_text},
    }
)


def test_strings_schema() -> None:
    assert fails(STRINGS_SCHEMA, STRINGS) is None


def test_en_json_is_strings_json() -> None:
    assert load_json(PACKAGE / "translations" / "en.json") == STRINGS


def _texts(tree: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _texts(value, f"{path}::{key}" if path else key)
    elif isinstance(tree, str):
        yield path, tree


def _resolve(reference: str) -> bool:
    """Whether ``[%key:...%]`` points at a text: ours, Home Assistant's common or a component's."""
    parts = reference.split("::")
    if parts[:2] == ["component", DOMAIN]:
        tree: Any = STRINGS
        parts = parts[2:]
    elif parts[0] == "common":
        tree = load_json(HA_PACKAGE / "strings.json")
    elif parts[0] == "component" and len(parts) > 2:
        path = HA_PACKAGE / "components" / parts[1] / "strings.json"
        if not path.is_file():
            return False
        tree = load_json(path)
        parts = parts[2:]
    else:
        return False
    for part in parts:
        if not isinstance(tree, dict) or part not in tree:
            return False
        tree = tree[part]
    return isinstance(tree, str)


def test_references_resolve() -> None:
    bad = [
        (path, ref)
        for path, text in _texts(STRINGS)
        for ref in RE_REFERENCE.findall(text)
        if not _resolve(ref)
    ]
    assert not bad


def test_translation_texts_well_formed() -> None:
    """Every text of every section, including ones the schema accepts as plain str."""
    bad = {}
    for path, text in _texts(STRINGS):
        if (problem := fails(translation_text, text)) is not None:
            bad[path] = problem
    assert not bad


def test_config_menu_and_steps_exist() -> None:
    """The first step is a menu of every device type; each type's first step has strings."""
    steps = STRINGS["config"]["step"]
    assert set(steps["user"]["menu_options"]) == set(SYSTEMS)
    for key in SYSTEMS:
        assert key in steps, key


# --- icons.json --------------------------------------------------------------------------------


def mdi(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"mdi:[a-z0-9]+(-[a-z0-9]+)*", value):
        raise vol.Invalid(f"{value!r} is not an mdi: icon")
    return value


def _state_not_default(value: dict[str, Any]) -> dict[str, Any]:
    for key, icons in value.items():
        for state, icon in icons.get("state", {}).items():
            if icon == icons.get("default"):
                raise vol.Invalid(f"{key}.{state}: same as the default icon")
    return value


ENTITY_ICON = {
    vol.Optional("default"): mdi,
    vol.Optional("state"): keyed(mdi),
    vol.Optional("range"): {vol.Match(r"^-?\d+(\.\d+)?$"): mdi},
    vol.Optional("state_attributes"): keyed(
        {vol.Optional("default"): mdi, vol.Optional("state"): keyed(mdi)}
    ),
}
DATA_ENTRY_ICONS = vol.Schema({"step": {str: {"sections": {str: mdi}}}})
ICONS_SCHEMA = vol.Schema(
    {
        vol.Optional("config"): DATA_ENTRY_ICONS,
        vol.Optional("options"): DATA_ENTRY_ICONS,
        vol.Optional("issues"): {str: {"fix_flow": DATA_ENTRY_ICONS}},
        vol.Optional("services"): keyed(
            vol.Any(
                mdi,
                {vol.Required("service"): mdi, vol.Optional("sections"): {str: mdi}},
            )
        ),
        # a hub has entity icons; entity_component is for entity/helper/system integrations
        vol.Optional("entity"): keyed(
            vol.All(keyed(ENTITY_ICON), _state_not_default), vol.In([p.value for p in Platform])
        ),
    }
)


def test_icons_schema() -> None:
    assert fails(ICONS_SCHEMA, ICONS) is None


def test_every_action_has_an_icon() -> None:
    assert set(ICONS.get("services", {})) == set(SERVICES)


def test_entity_icons_belong_to_translated_entities() -> None:
    """An icon key is a translation key: without the translation no entity can use it."""
    for platform, icons in ICONS.get("entity", {}).items():
        translated = STRINGS.get("entity", {}).get(platform, {})
        assert set(icons) <= set(translated), platform


# --- hacs.json ---------------------------------------------------------------------------------

HACS_SCHEMA = vol.Schema(
    {
        vol.Required("name"): vol.All(str, vol.Length(min=1)),
        vol.Optional("content_in_root"): False,
        vol.Optional("zip_release"): bool,
        vol.Optional("filename"): str,
        vol.Optional("hide_default_branch"): bool,
        vol.Optional("country"): vol.Any(vol.Match(r"^[A-Z]{2}$"), [vol.Match(r"^[A-Z]{2}$")]),
        vol.Optional("homeassistant"): vol.Match(r"^\d{4}\.\d{1,2}\.\d+$"),
        vol.Optional("hacs"): str,
        vol.Optional("persistent_directory"): str,
        vol.Optional("render_readme"): bool,
    }
)


def test_hacs_json() -> None:
    hacs = load_json(ROOT / "hacs.json")
    assert fails(HACS_SCHEMA, hacs) is None
    assert hacs["name"] == MANIFEST["name"]
    if isinstance(hacs.get("country"), list):
        assert len(set(hacs["country"])) == len(hacs["country"])
    # one integration folder, as HACS expects for content_in_root false
    assert [
        p.name
        for p in (ROOT / "custom_components").iterdir()
        if p.is_dir() and not p.name.startswith("__")
    ] == [DOMAIN]


@pytest.mark.parametrize("name", ["manifest.json", "strings.json", "icons.json"])
def test_json_files_are_formatted_consistently(name: str) -> None:
    """No duplicate keys (json.loads would keep only the last)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"{name}: duplicate keys {keys}"
        return dict(pairs)

    json.loads((PACKAGE / name).read_text(encoding="utf-8"), object_pairs_hook=no_duplicates)
