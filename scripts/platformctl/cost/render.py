"""The estimate as a text table, JSON or Markdown (docs/cost.md embeds the Markdown)."""

from __future__ import annotations

from typing import Any

from platformctl.cost.model import SERVICES, Estimate


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def text(estimate: Estimate) -> str:
    rows = [("SERVICE", "ITEM", "QUANTITY / MONTH", "USD / MONTH")]
    for line in estimate.lines:
        rows.append((line.service, line.item, f"{line.quantity:,.3f} {line.unit}", _usd(line.usd)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = [
        f"{estimate.orders_per_day:,.0f} orders a day in {estimate.region}: about {_usd(estimate.total)} a month",
        "",
    ]
    out += ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    out += ["", "per service:"]
    out += [f"  {service:<16} {_usd(usd):>12}" for service, usd in estimate.by_service().items()]
    return "\n".join(out) + "\n"


def as_json(estimate: Estimate) -> dict[str, Any]:
    return {
        "orders_per_day": estimate.orders_per_day,
        "region": estimate.region,
        "total_usd": round(estimate.total, 2),
        "per_order_usd": round(estimate.per_order, 5),
        "services": {service: round(usd, 2) for service, usd in estimate.by_service().items()},
        "lines": [
            {
                "service": line.service,
                "item": line.item,
                "quantity": round(line.quantity, 6),
                "unit": line.unit,
                "price_usd": line.price,
                "usd": round(line.usd, 2),
                **({"note": line.note} if line.note else {}),
            }
            for line in estimate.lines
        ],
    }


def markdown(estimates: list[Estimate]) -> str:
    """One column per estimate (orders a day), one row per service, and the total."""
    head = "| service | " + " | ".join(f"{e.orders_per_day:,.0f} orders/day" for e in estimates) + " |"
    rule = "|---|" + "---:|" * len(estimates)
    rows = [head, rule]
    services = [e.by_service() for e in estimates]
    for service in SERVICES:
        rows.append(f"| {service} | " + " | ".join(_usd(s[service]) for s in services) + " |")
    rows.append("| **total** | " + " | ".join(f"**{_usd(e.total)}**" for e in estimates) + " |")
    per_order = " | ".join(f"${e.per_order:.4f}" for e in estimates)
    rows.append(f"| per order | {per_order} |")
    return "\n".join(rows) + "\n"
