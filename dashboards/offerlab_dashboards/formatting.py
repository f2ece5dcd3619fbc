"""Pure text formatting for the dashboards: numbers, money, uplifts, p-values and labels."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from offerlab.domain.reports import Interval

NO_VALUE = "—"

_PLACEMENT_LABELS = {
    "product_page": "Product page",
    "cart": "Cart",
    "checkout": "Checkout",
    "post_purchase": "Post-purchase",
    "post_purchase_email": "Post-purchase e-mail",
    "email": "E-mail",
}
_OFFER_KIND_LABELS = {"upsell": "Upsell", "cross_sell": "Cross-sell"}
_ALLOCATION_LABELS = {
    "fixed": "Fixed split",
    "thompson": "Bandit (Thompson sampling)",
    "epsilon_greedy": "Bandit (epsilon-greedy)",
    "ucb1": "Bandit (UCB1)",
}
_OBJECTIVE_LABELS = {
    "conversion": "Offer conversion",
    "revenue": "Revenue per visitor",
    "order_value": "Order value per visitor",
    "offer_revenue": "Offer revenue per visitor",
    "margin": "Offer margin per visitor",
}


def _is_number(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def format_count(value: int | None) -> str:
    """Format a count with thousands separators: 12345 -> "12,345"."""
    return NO_VALUE if value is None else f"{value:,}"


def format_percent(fraction: float | None, *, decimals: int = 1) -> str:
    """Format a fraction as a percentage: 0.1234 -> "12.3%"."""
    if fraction is None or not _is_number(fraction):
        return NO_VALUE
    return f"{fraction:.{decimals}%}"


def format_signed_percent(fraction: float | None, *, decimals: int = 1) -> str:
    """Format a relative change with its sign: 0.123 -> "+12.3%", -0.041 -> "-4.1%"."""
    if fraction is None or not _is_number(fraction):
        return NO_VALUE
    return f"{fraction:+.{decimals}%}"


def format_money(amount: float | None) -> str:
    """Format an amount of money with two decimals and thousands separators: "1,234.50"."""
    if amount is None or not _is_number(amount):
        return NO_VALUE
    return f"{amount:,.2f}"


def format_signed_money(amount: float | None) -> str:
    """Format a difference in money with its sign: 1.2 -> "+1.20", -3 -> "-3.00"."""
    if amount is None or not _is_number(amount):
        return NO_VALUE
    return f"{amount:+,.2f}"


def format_signed_points(fraction: float | None, *, decimals: int = 1) -> str:
    """Format a difference of two rates in percentage points: 0.044 -> "+4.4 pp"."""
    if fraction is None or not _is_number(fraction):
        return NO_VALUE
    return f"{fraction * 100.0:+.{decimals}f} pp"


def format_interval(interval: Interval | None, formatter: Callable[[float], str]) -> str:
    """Format an interval with the given number formatter: "[+4.1%, +20.5%]"."""
    if interval is None or not (_is_number(interval.low) and _is_number(interval.high)):
        return NO_VALUE
    return f"[{formatter(interval.low)}, {formatter(interval.high)}]"


def format_uplift(relative_uplift: float | None, relative_ci: Interval | None) -> str:
    """Format a relative uplift with its interval: "+12.3% [+4.1%, +20.5%]"."""
    estimate = format_signed_percent(relative_uplift)
    if estimate == NO_VALUE:
        return NO_VALUE
    interval = format_interval(relative_ci, format_signed_percent)
    return estimate if interval == NO_VALUE else f"{estimate} {interval}"


def format_p_value(p_value: float | None) -> str:
    """Format a p-value for managers: "p < 0.001", "p = 0.003", "p = 0.42"."""
    if p_value is None or not _is_number(p_value) or not 0.0 <= p_value <= 1.0:
        return NO_VALUE
    if p_value < 0.001:
        return "p < 0.001"
    # Three decimals below 0.1 keep values near the usual alphas apart (0.012 vs 0.049).
    decimals = 3 if p_value < 0.1 else 2
    return f"p = {p_value:.{decimals}f}"


def format_confidence(alpha: float) -> str:
    """Confidence level of a two-sided test at `alpha`: 0.05 -> "95%", 0.025 -> "97.5%"."""
    return format_level(1.0 - alpha)


def format_level(level: float) -> str:
    """An interval's confidence level: 0.975 -> "97.5%", 0.98333 -> "98.3%"."""
    return f"{round(level * 100.0, 1):g}%"


def format_decimal(value: float | None, *, decimals: int = 3) -> str:
    """Format a per-visitor count such as orders per visitor: 0.1234 -> "0.123"."""
    if value is None or not _is_number(value):
        return NO_VALUE
    return f"{value:,.{decimals}f}"


def format_signed_decimal(value: float | None, *, decimals: int = 3) -> str:
    """Format a difference of per-visitor counts with its sign: 0.012 -> "+0.012"."""
    if value is None or not _is_number(value):
        return NO_VALUE
    return f"{value:+,.{decimals}f}"


def format_ordinal(number: float) -> str:
    """An ordinal for percentiles: 99 -> "99th", 1 -> "1st", 22 -> "22nd", 99.5 -> "99.5th"."""
    text = f"{number:g}"
    if number != int(number) or 11 <= int(number) % 100 <= 13:
        return f"{text}th"
    return text + {1: "st", 2: "nd", 3: "rd"}.get(int(number) % 10, "th")


def format_days(days: float | None) -> str:
    """Days still needed, rounded up: 0.2 -> "1 day", 11.3 -> "12 days"."""
    if days is None or not _is_number(days) or days < 0:
        return NO_VALUE
    whole = max(1, math.ceil(days))
    return "1 day" if whole == 1 else f"{whole:,} days"


def format_timestamp(moment: datetime) -> str:
    """Format a report time to the minute, with its zone when known: "2025-03-01 14:05 UTC"."""
    text = moment.strftime("%Y-%m-%d %H:%M")
    zone = moment.tzname()
    return f"{text} {zone}" if zone else text


def _label(labels: dict[str, str], key: str) -> str:
    return labels.get(key) or key.replace("_", " ").capitalize()


def placement_label(placement: str) -> str:
    """Human name of a placement: "product_page" -> "Product page"."""
    return _label(_PLACEMENT_LABELS, placement)


def offer_kind_label(offer_kind: str) -> str:
    """Human name of an offer kind: "cross_sell" -> "Cross-sell"."""
    return _label(_OFFER_KIND_LABELS, offer_kind)


def allocation_label(allocation: str) -> str:
    """Human name of an allocation kind: "thompson" -> "Bandit (Thompson sampling)"."""
    return _label(_ALLOCATION_LABELS, allocation)


def objective_label(objective: str) -> str:
    """Human name of an experiment objective: "revenue" -> "Revenue per visitor"."""
    return _label(_OBJECTIVE_LABELS, objective)


def status_label(status: str) -> str:
    """Human name of an experiment status: "running" -> "Running"."""
    return status.replace("_", " ").capitalize()
