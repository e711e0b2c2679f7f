"""What a person does in Home Assistant's frontend, as Playwright steps.

Playwright's locators pierce the frontend's (open) shadow roots, so fields are found by their
form ``name`` and buttons by their visible label, as a person finds them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
import re
import time
from typing import TYPE_CHECKING, Any

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
        # CSS transitions (a ticked box, a ripple) are finished first
        self.page.screenshot(path=path, animations="disabled")
        self.taken.append(path)
        return path

    def settle(self, locator: Locator, timeout: float = 15) -> None:
        """Wait until an element looks the same twice in a row (a chart drawn in steps)."""
        deadline = time.monotonic() + timeout
        before = locator.screenshot()
        while time.monotonic() < deadline:
            after = locator.screenshot()
            if after == before:
                return
            before = after
        msg = "the element kept changing"
        raise AssertionError(msg)

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

    def close_dialog(self) -> None:
        """Close a flow's last dialog (an abort or a saved message)."""
        self.page.get_by_role(
            "button", name=re.compile("^(finish|close)$", re.IGNORECASE)
        ).last.click()

    def entry_row(self, title: str) -> Locator:
        """On MeterLink's integration page: the row of the entry or subentry titled ``title``."""
        self.goto("/config/integrations/integration/meterlink")
        return self.page.locator("ha-md-list-item").filter(has_text=title).first

    def entry_menu(self, title: str, item: str) -> None:
        """Pick ``item`` from the overflow menu of an entry's row."""
        self.entry_row(title).locator("ha-md-button-menu ha-icon-button").first.click()
        self.page.get_by_role("menuitem", name=item).click()

    def ws(self, message: dict[str, Any]) -> Any:
        """Send a websocket command as the logged-in frontend does, return its result."""
        return self.page.evaluate(
            "message => document.querySelector('home-assistant').hass.callWS(message)", message
        )

    def open_device(self, name: str) -> None:
        """Settings → Devices: search for a device by name and open its page."""
        self.goto("/config/devices/dashboard")
        self.page.locator("ha-outlined-text-field[placeholder^='Search'] input").first.fill(name)
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # noqa: PLC0415

        # the table redraws as the search filters it: a click during a redraw is lost
        for attempt in range(5):
            self.page.get_by_text(name, exact=True).first.click()
            try:
                self.page.wait_for_url(re.compile(r"/config/devices/device/"), timeout=5_000)
                break
            except PlaywrightTimeoutError:
                if attempt == 4:
                    raise
        self.page.wait_for_load_state("networkidle")
