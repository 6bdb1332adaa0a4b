"""The worked examples of DOMAIN.md §4, verbatim."""

from __future__ import annotations

from decimal import Decimal

from pipeline.price import adjustment_rules, usage_adjustments
from tests.price.factory import CORE, K_SEC, priced, rate_priced, usage

#: Articles "Dictation" 5 € per piece and "Research" 1 € per piece, on tariff T-SEC.
PIECES = {
    "articles": {
        "article_id": [*CORE["articles"]["article_id"], "DICTATION", "RESEARCH"],
        "name": [*CORE["articles"]["name"], "Dictation", "Research"],
        "unit": [*CORE["articles"]["unit"], "event", "event"],
        "price_per": [*CORE["articles"]["price_per"], "1", "1"],
    },
    "article_keys": {
        "article_key": [*CORE["article_keys"]["article_key"], "dictation", "research"],
        "zone_id": [*CORE["article_keys"]["zone_id"], None, None],
        "article_id": [*CORE["article_keys"]["article_id"], "DICTATION", "RESEARCH"],
    },
    "prices": {
        "tariff_id": [*CORE["prices"]["tariff_id"], "T-SEC", "T-SEC"],
        "article_id": [*CORE["prices"]["article_id"], "DICTATION", "RESEARCH"],
        "price": [*CORE["prices"]["price"], "5.00", "1.00"],
    },
}


def invoice_total(dictations: int, researches: int, **rules) -> Decimal:
    cat = priced(core=PIECES, **rules)
    keys = ["dictation"] * dictations + ["research"] * researches
    records = usage(subscriber_id=[K_SEC] * len(keys), article_key=keys, duration_s=[0] * len(keys), counterparty=[None] * len(keys))
    lines = rate_priced(records, cat).table("invoice_lines").pl()
    adjustments = usage_adjustments(lines, adjustment_rules(cat))
    return sum([*lines.get_column("net_amount"), *adjustments.get_column("net_amount")], Decimal("0"))


def test_domain_example_minimum_revenue_15_eur():
    """Minimum revenue 10 €, only Research flagged; 1 Dictation and 5 Research: 5 € + max(5 €, 10 €) = 15 €."""
    total = invoice_total(
        1, 5,
        tariff_pricing={"tariff_id": ["T-SEC"], "min_revenue": ["10"]},
        tariff_articles={"tariff_id": ["T-SEC"], "article_id": ["RESEARCH"], "min_revenue": ["true"]},
    )
    assert total == Decimal("15.00")


def test_domain_example_cost_cap_15_eur():
    """Cost cap 10 €, only Research flagged; 1 Dictation and 20 Research: 5 € + min(20 €, 10 €) = 15 €."""
    total = invoice_total(
        1, 20,
        tariff_pricing={"tariff_id": ["T-SEC"], "cost_cap": ["10"]},
        tariff_articles={"tariff_id": ["T-SEC"], "article_id": ["RESEARCH"], "cost_cap": ["true"]},
    )
    assert total == Decimal("15.00")
