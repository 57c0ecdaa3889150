"""The REST API (django-ninja): one NinjaAPI with a router per capability.

Schema at /api/openapi.json, interactive docs at /api/docs.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI, Schema

from patron.accounts.access import role_of
from patron.accounts.api import router as accounts_router
from patron.approvals.api import router as approvals_router
from patron.discounts.api import router as discounts_router
from patron.discounts.api_publication import router as publication_router
from patron.domain.access import Action, reach
from patron.exports.api import router as exports_router
from patron.imports.api import router as imports_router
from patron.rebates.api import router as rebates_router
from patron.sales.api import router as sales_router
from patron.segments.api import router as segments_router

from . import errors
from .auth import api_auth
from .schemas import responses

DESCRIPTION = """\
Patron's REST API.

**Authentication.** Send a token as `Authorization: Bearer <token>`; create one with
`patron token create --user <username>`. Patron's own pages call the API with their
signed-in session and the CSRF token.

**Money** goes in and out as text (`"1200.50"`), never as a JSON number; an amount with more
decimals than its currency allows is refused, not rounded.

**Lists** are pages: pass the `next_cursor` of one page as `cursor` to get the next; `limit` is 1 to 200.

**Errors**: 401 not signed in, 403 not allowed, 404 not found *or not visible to you*,
409 refused by the record's state, 422 invalid input with every field named in `detail[].loc`.
"""

api = NinjaAPI(
    title="Patron API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=api_auth(),
    parser=errors.JSONParser(),
)
errors.register(api)


class MeOut(Schema):
    username: str
    name: str
    role: str
    team: str | None
    language: str
    actions: list[str]


@api.get("/me", response=responses({200: MeOut}), tags=["me"], summary="Who you are and what your role may do")
def me(request: HttpRequest) -> Any:
    user: Any = request.auth  # type: ignore[attr-defined]
    role = role_of(user)
    return {
        "username": user.username,
        "name": user.display_name(),
        "role": role.value,
        "team": user.team.name if user.team_id else None,
        "language": user.language,
        "actions": sorted(action.value for action in Action if reach(role, action)),
    }


api.add_router("", accounts_router)
api.add_router("", sales_router)
api.add_router("", discounts_router)
api.add_router("", "patron.discounts.api_analysis.router")  # what-if and effect
api.add_router("", publication_router)
api.add_router("", imports_router)
api.add_router("", exports_router)
api.add_router("", segments_router)
api.add_router("", approvals_router)
api.add_router("", rebates_router)
api.add_router("", "patron.coupons.api.router")
api.add_router("", "patron.receivables.api.router")
api.add_router("", "patron.pipeline.api.router")
