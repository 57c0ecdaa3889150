"""The reader's words for what a rebate calculation found (translated here, at the edge)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

from patron.discounts.messages import words_of
from patron.domain.explain import Reason

REASONS: dict[str, Any] = {
    "NO_VOLUME": gettext_lazy("Nothing bought in the period yet."),
    "BELOW_THRESHOLD": gettext_lazy("Below the threshold: %(missing)s more to earn anything."),
    "BELOW_FIRST_TIER": gettext_lazy("Below the first tier: %(missing)s more needed."),
    "TIER_REACHED": gettext_lazy("Tier %(index)s reached."),
    "CAPPED": gettext_lazy("Capped at %(cap)s for the period (earned %(uncapped)s)."),
    "NEXT_TIER": gettext_lazy("%(missing)s more reaches tier %(index)s."),
    "NETTED": gettext_lazy("Earned %(earned)s, of which %(paid)s was paid before."),
    "CLAWBACK": gettext_lazy("%(amount)s was paid too much and is taken back."),
    "REPLAY_PROPOSED": gettext_lazy(
        "Had these terms applied over the last %(periods)s periods, they would have cost %(cost)s; "
        "accounts paid: %(accounts)s."
    ),
    "REPLAY_CURRENT": gettext_lazy("The program as it stands cost %(cost)s; accounts paid: %(accounts)s."),
    "REPLAY_COSTS_MORE": gettext_lazy("%(amount)s more; accounts that would get more: %(accounts)s."),
    "REPLAY_COSTS_LESS": gettext_lazy("%(amount)s less; accounts that would get less: %(accounts)s."),
    "REPLAY_SAME": gettext_lazy("The same cost as the program as it stands."),
}


def reason_text(reason: Reason) -> str:
    return words_of(REASONS, reason)
