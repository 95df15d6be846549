"""Number formatting for the site's tables: every figure shown with its unit."""

from __future__ import annotations

from django import template

register = template.Library()

_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def _number(value: object) -> float | None:
    """The value as a number, or None when unknown: a missing related row renders as "" in a
    template (e.g. a pick whose token has no rating yet), which must show as a dash, not fail."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


@register.filter
def usd_compact(value: float | None) -> str:
    """USD amount, compact: $1.23M; an em dash when unknown."""
    value = _number(value)
    if value is None:
        return "—"
    for size, suffix in _SUFFIXES:
        if abs(value) >= size:
            return f"${value / size:,.2f}{suffix}"
    return f"${value:,.2f}"


@register.filter
def usd_price(value: float | None) -> str:
    """USD price per whole token with 4 significant digits below $1 (e.g. $0.0001234)."""
    value = _number(value)
    if value is None:
        return "—"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if value == 0:
        return "$0"
    return f"${value:.4g}" if abs(value) >= 1e-4 else f"${value:.3e}"


@register.filter
def signed(value: float | None, digits: int = 1) -> str:
    """A change with its sign: +1.2 / -0.4; an em dash when unknown."""
    value = _number(value)
    if value is None:
        return "—"
    return f"{value:+.{int(digits)}f}"


@register.filter
def trend(value: float | None) -> str:
    """CSS class for a change: ``up``, ``down`` or ``flat``."""
    value = _number(value)
    if value is None or value == 0:
        return "flat"
    return "up" if value > 0 else "down"


@register.filter
def grade(value: float | None) -> str:
    value = _number(value)
    return "—" if value is None else f"{value:.0f}"


@register.filter
def percent(value: float | None, digits: int = 2) -> str:
    """A 0-1 fraction as a percentage."""
    value = _number(value)
    if value is None:
        return "—"
    return f"{value * 100:.{int(digits)}f}%"


@register.filter
def short_address(value: str) -> str:
    return f"{value[:6]}…{value[-4:]}" if value and len(value) > 12 else value
