"""What a person does in Home Assistant's frontend, as Playwright steps.

Playwright's locators pierce the frontend's (open) shadow roots, so fields are found by their
form ``name`` and buttons by their visible label, as a person finds them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

# a step button: HA labels it Submit (last step), Next (more steps) or Finish (done)
FORWARD = re.compile(r"^(submit|next)$", re.IGNORECASE)
TIMEOUT_MS = 30_000


@dataclass
class Ui:
    """One browser tab on one Home Assistant, saving a numbered screenshot per step."""

    page: Page
    base_url: str
    shots: Path
    counter: int = 0
    taken: list[Path] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None

    def shot(self, name: str) -> Path:
        """Save a screenshot of the page as ``NN-name.png``."""
        self.counter += 1
        path = self.shots / f"{self.counter:02d}-{name}.png"
        self.page.screenshot(path=path)
        self.taken.append(path)
        return path

    def goto(self, path: str) -> None:
        """Open a frontend path and wait for the app to render."""
        self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("networkidle")

    def field(self, name: str) -> Locator:
        """Return the form field (input or textarea) with this ``name``."""
        return self.page.locator(f"input[name='{name}'], textarea[name='{name}']").first

    def fill(self, **values: str) -> None:
        """Type into form fields by name."""
        for name, value in values.items():
            self.field(name).fill(value)

    def fill_labelled(self, label: str, value: str) -> None:
        """Type into the field a person sees labelled ``label`` (number fields have no name)."""
        self.page.get_by_label(re.compile(rf"^{re.escape(label)}\*?$")).first.fill(value)

    def combo(self, label: str, value: str) -> None:
        """Type a custom value into a combo box (a selector that also takes free text)."""
        box = self.page.get_by_role("combobox", name=re.compile(re.escape(label))).first
        box.click()
        box.fill(value)
        # Escape closes the suggestions and keeps the text (Enter or leaving the field would
        # take the highlighted suggestion instead)
        box.press("Escape")

    def forward(self) -> None:
        """Press the dialog's Submit / Next button."""
        self.page.get_by_role("button", name=FORWARD).click()

    def dialog_text(self, text: str | re.Pattern[str]) -> Locator:
        """Wait for text to show anywhere on the page and return it."""
        locator = self.page.get_by_text(text).first
        locator.wait_for(timeout=TIMEOUT_MS)
        return locator

    def add_meterlink(self, menu_label: str) -> None:
        """Settings → Devices & services → Add integration → MeterLink → a device type."""
        self.goto("/config/integrations/dashboard")
        self.page.get_by_role("button", name="Add integration").click()
        self.page.get_by_label("Search for a brand name").fill("MeterLink")
        self.page.locator("dialog-add-integration").get_by_text(
            "MeterLink", exact=True
        ).first.click()
        self.page.get_by_text(menu_label).first.click()

    def finish(self) -> None:
        """Close the "Success" dialog after a device was added."""
        self.dialog_text(re.compile(r"^Success", re.IGNORECASE))
        self.page.get_by_role("button", name=re.compile("^finish$", re.IGNORECASE)).click()

    def open_device(self, name: str) -> None:
        """Settings → Devices: search for a device by name and open its page."""
        self.goto("/config/devices/dashboard")
        self.page.locator("ha-outlined-text-field[placeholder^='Search'] input").first.fill(name)
        self.page.get_by_text(name, exact=True).first.click()
        self.page.wait_for_url(re.compile(r"/config/devices/device/"))
        self.page.wait_for_load_state("networkidle")
