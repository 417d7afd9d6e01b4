"""Small-cell suppression: counts of 1 to threshold-1 patients' messages shown as "<threshold".

Reports that leave the system (files, e-mail) suppress by default, as de-identified health
reporting does (11 by default: counts 1 to 10 hidden); an authorised analyst may ask the API for
exact counts. A rate whose numerator or denominator is hidden is hidden too, and so is anything
drawn from them (a bar's length, an interval): a hidden count never leaks through its rate.
Zero is shown: it says nobody, and hides no one.

What this does not do: complementary suppression. A total minus the shown parts can still reveal
a hidden cell; the threshold is an aid to de-identification, not a guarantee of it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CellPolicy:
    """How counts are shown: ``threshold`` None shows them exactly."""

    threshold: int | None = 11

    @classmethod
    def exact(cls) -> CellPolicy:
        return cls(None)

    @property
    def hidden_label(self) -> str:
        return f"<{self.threshold}" if self.threshold is not None else ""

    def hides(self, count: int | None) -> bool:
        return self.threshold is not None and count is not None and 0 < count < self.threshold

    def count(self, count: int) -> int | str:
        """The count, or ``"<11"`` when it is hidden."""
        return self.hidden_label if self.hides(count) else count

    def count_text(self, count: int) -> str:
        return self.hidden_label if self.hides(count) else f"{count:,}"

    def rate(self, numerator: int, denominator: int | None) -> float | None:
        """numerator / denominator, or None when it cannot be shown (a hidden count in it, or
        nothing to divide by)."""
        if not denominator or self.hides(numerator) or self.hides(denominator):
            return None
        return numerator / denominator

    def rate_text(self, numerator: int, denominator: int | None) -> str:
        value = self.rate(numerator, denominator)
        return "–" if value is None else f"{value * 100:.1f}%"
