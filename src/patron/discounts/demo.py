"""Discount policies, rules and limits for the demo data set, written through the real services.

What a tea and coffee wholesaler would run: volume tiers on tea, a Guangdong retail
promotion in the winter, spend-and-save in the web shop, a welcome for new customers,
a reward for the best customers (RFM champions), contract terms for key accounts, and a
draft spring price change to try in the simulator and the what-if. Limits: a
salesperson may give 5% (¥2,000 an order) by hand, a sales manager approves up to 15%.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from patron.accounts.models import Account, Industry, Region
from patron.sales.models import Category, Product
from patron.staff.models import User

from . import services
from .models import Policy


def _ids(model: Any, codes: list[str]) -> list[int]:
    found = dict(model.objects.filter(code__in=codes).values_list("code", "id"))
    return [found[c] for c in codes if c in found]


def install_demo_policies(today: dt.date) -> list[Policy]:
    """Once: a second call finds the policies there and does nothing."""
    if Policy.objects.exists():
        return []
    manager = User.objects.filter(role="sales_manager").order_by("id").first()
    admin = User.objects.filter(role="admin").order_by("id").first()
    if manager is None or admin is None:
        return []
    services.discount_limit_set(actor=admin, data={"role": "salesperson", "percent": "5", "amount": "2000"})
    services.discount_limit_set(actor=admin, data={"role": "sales_manager", "percent": "15", "amount": "20000"})
    tea, coffee = _ids(Category, ["TEA"]), _ids(Category, ["COFFEE"])
    gifts = _ids(Category, ["TEA-GIFT"])
    guangdong = _ids(Region, ["GD"])
    retail = _ids(Industry, ["RETAIL"])
    tz = timezone.get_current_timezone()
    winter_start = (
        dt.datetime(today.year, 11, 15, tzinfo=tz)
        if today.month >= 11
        else dt.datetime(today.year - 1, 11, 15, tzinfo=tz)
    )
    gift_products = list(Product.objects.filter(category_id__in=gifts).values_list("id", flat=True)[:30])
    gift_set = services.product_set_save(
        actor=manager,
        data={"name": "Festival gift boxes", "description": "Sold before Spring Festival", "products": gift_products},
    )
    key_accounts = list(
        Account.objects.filter(is_key_account=True, merged_into__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)[:5]
    )
    made = []

    def policy(data: dict[str, Any], rules: list[dict[str, Any]], *, active: bool = True) -> None:
        p = services.policy_create(actor=manager, data=data)
        for rule in rules:
            services.rule_create(actor=manager, policy=p, data=rule)
        if active:
            p = services.policy_set_status(actor=manager, policy=p, status=Policy.ACTIVE)
        made.append(p)

    policy(
        {
            "name": "Tea volume tiers",
            "description": "The more tea an order takes, the deeper the discount.",
            "customer_text": "Order 20 units of tea or more and save 3%; 100 or more, 6%; 300 or more, 9%.",
        },
        [
            {
                "name": "Tea volume tiers",
                "priority": 50,
                "what": {"categories": tea},
                "benefit": {
                    "kind": "tiers",
                    "basis": "quantity",
                    "tiers": [
                        {"from": "20", "percent": "3"},
                        {"from": "100", "percent": "6"},
                        {"from": "300", "percent": "9"},
                    ],
                },
                "stacking": {"group": "volume"},
            }
        ],
    )
    if guangdong and retail:
        policy(
            {
                "name": "Guangdong retail winter promotion",
                "description": "Shops in Guangdong before Spring Festival.",
                "customer_text": "Winter offer for Guangdong shops: 8% off coffee, gift boxes at a fixed price.",
                "effective_from": winter_start.isoformat(),
                "effective_to": (winter_start + dt.timedelta(days=120)).isoformat(),
            },
            [
                {
                    "name": "8% off coffee",
                    "priority": 40,
                    "who": {"regions": guangdong, "industries": retail},
                    "what": {"categories": coffee},
                    "benefit": {"kind": "percent_off", "percent": "8"},
                    "caps": {"per_order": "3000"},
                },
                {
                    "name": "Gift boxes buy 5 get 1",
                    "priority": 45,
                    "who": {"regions": guangdong, "industries": retail},
                    "what": {"product_sets": [gift_set.pk]},
                    "benefit": {"kind": "buy_get", "buy": 5, "free": 1},
                    "stacking": {"group": "volume"},
                },
            ],
        )
    policy(
        {
            "name": "Web shop: spend ¥300, save ¥30",
            "description": "满300减30, repeating, for orders placed in the web shop.",
            "customer_text": "In our web shop, every ¥300 you spend saves ¥30.",
        },
        [
            {
                "name": "满300减30",
                "priority": 10,
                "when": {"channels": ["web_shop"]},
                "benefit": {"kind": "spend_save", "spend": "300", "save": "30", "repeat": True},
                "caps": {"per_order": "600"},
            }
        ],
    )
    policy(
        {
            "name": "New customer welcome",
            "description": "10% off the first order of a new customer.",
            "customer_text": "Welcome! 10% off your first order.",
        },
        [
            {
                "name": "First order 10%",
                "priority": 60,
                "who": {"new_customers": True},
                "when": {"first_order": True},
                "benefit": {"kind": "percent_off", "percent": "10"},
                "stacking": {"exclusive": True},
            }
        ],
    )
    policy(
        {
            "name": "Champions reward",
            "description": "Our best customers by RFM get 4% on everything.",
            "customer_text": "Thank you for your loyalty: 4% off everything.",
        },
        [
            {
                "name": "Champions 4%",
                "priority": 20,
                "who": {"classes": ["rfm:champions"]},
                "benefit": {"kind": "percent_off", "percent": "4"},
            }
        ],
    )
    if key_accounts:
        policy(
            {
                "name": "Key account contract terms",
                "description": "Prices agreed in the key accounts' annual contracts.",
                "customer_text": "Your contract terms.",
            },
            [
                {
                    "name": "Contract: 12% on tea",
                    "priority": 90,
                    "who": {"accounts": key_accounts},
                    "what": {"categories": tea},
                    "benefit": {"kind": "percent_off", "percent": "12"},
                    "stacking": {"exclusive": True},
                }
            ],
        )
    policy(
        {
            "name": "Spring price change (draft)",
            "description": "Proposed: 5% off coffee for high-value accounts. Try it in the what-if before activating.",
            "customer_text": "Spring offer: 5% off coffee.",
        },
        [
            {
                "name": "High value: 5% off coffee",
                "priority": 30,
                "who": {"classes": ["value_tier:high"]},
                "what": {"categories": coffee},
                "benefit": {"kind": "percent_off", "percent": "5"},
            }
        ],
        active=False,
    )
    return made
