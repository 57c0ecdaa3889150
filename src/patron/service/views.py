"""Thin pages over the follow-up services: my day, the team's work, planning a task and marking it done."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from patron.accounts.access import can, scoped, visible_accounts
from patron.accounts.models import Account
from patron.core.errors import Conflict, error_dict
from patron.domain.access import Action, Role
from patron.staff.models import User

from . import selectors, services
from .forms import CadenceForm, CompleteForm, TaskForm
from .models import Cadence, Task


def _worker(user: Any) -> None:
    if not can(user, Action.EDIT_ACCOUNT):
        raise PermissionDenied


@login_required
def my_day(request: HttpRequest) -> HttpResponse:
    _worker(request.user)
    day = selectors.my_day(request.user)
    return render(
        request,
        "service/my_day.html",
        {
            "day": day,
            "today": timezone.localdate(),
            "manages": _manages(request.user),
            "outcomes": [(v, str(label)) for v, label in Task.OUTCOMES],
        },
    )


def _manages(user: Any) -> bool:
    return getattr(user, "role", "") in (Role.ADMIN.value, Role.SALES_MANAGER.value)


@login_required
def team(request: HttpRequest) -> HttpResponse:
    if not _manages(request.user):
        raise PermissionDenied
    return render(
        request,
        "service/team.html",
        {"workload": selectors.team_workload(request.user), "overdue": selectors.team_overdue(request.user)},
    )


def _account_to_work_on(request: HttpRequest) -> Any:
    """The account named by ``?account=`` (or the form's field), which the user may see and work on."""
    _worker(request.user)
    code = (request.GET.get("account") or request.POST.get("account") or "").strip()
    account = visible_accounts(request.user).filter(code=code).first()
    if account is None:
        raise Http404
    if not can(request.user, Action.EDIT_ACCOUNT, account):
        raise PermissionDenied
    return account


def _pick_account(request: HttpRequest, target: str, title: str) -> HttpResponse:
    """Which account? A search over the accounts the user works on, each a link to ``target`` for it."""
    _worker(request.user)
    q = (request.GET.get("q") or "").strip()[:100]
    found = []
    if q:
        found = list(
            scoped(Account.objects.all(), request.user, Action.EDIT_ACCOUNT)
            .filter(Q(code__icontains=q) | Q(name__icontains=q))
            .order_by("name")[:20]
        )
    return render(request, "service/account_pick.html", {"q": q, "found": found, "target": target, "title": title})


def _owners(account: Any) -> list[tuple[str, str]]:
    people = User.objects.filter(is_active=True).order_by("username")
    return [(u.username, u.display_name()) for u in people if can(u, Action.EDIT_ACCOUNT, account)]


@login_required
def task_new(request: HttpRequest) -> HttpResponse:
    account = _account_to_work_on(request)
    status = 200
    initial = {"owner": request.user.get_username(), "kind": account.preferred_channel}
    form = TaskForm(request.POST or None, account=account, owners=_owners(account), initial=initial)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.task_create(actor=request.user, account=account, data=form.service_data())
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Follow-up planned."))
                return redirect("accounts:detail", account.code)
        status = 400
    return render(request, "service/task_form.html", {"form": form, "account": account}, status=status)


def _add_errors(form: Any, exc: ValidationError) -> None:
    for field, texts in error_dict(exc).items():
        for text in texts:
            form.add_error(field if field in form.fields else None, text)


def _task(request: HttpRequest, task_id: int) -> Task:
    task = get_object_or_404(Task.objects.select_related("account", "owner", "contact"), pk=task_id)
    if not visible_accounts(request.user).filter(pk=task.account_id).exists() and task.owner_id != request.user.pk:
        raise Http404
    return task


@login_required
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    task = _task(request, task_id)
    may = task.owner_id == request.user.pk or can(request.user, Action.EDIT_ACCOUNT, task.account)
    status = 200
    initial = {
        "subject": task.subject,
        "kind": task.kind,
        "due_at": timezone.localtime(task.due_at),
        "contact": str(task.contact_id or ""),
        "owner": task.owner.get_username(),
        "repeat_every": task.repeat_every,
        "repeat_unit": task.repeat_unit or "weeks",
        "notes": task.notes,
    }
    form = TaskForm(None, account=task.account, owners=_owners(task.account), initial=initial)
    done = CompleteForm(None)
    if request.method == "POST" and may:
        action = request.POST.get("action")
        try:
            if action == "done":
                done = CompleteForm(request.POST)
                if done.is_valid():
                    services.task_complete(
                        actor=request.user,
                        task=task,
                        outcome=done.cleaned_data["outcome"],
                        notes=done.cleaned_data["notes"],
                    )
                    messages.success(request, _("Marked done."))
                    return redirect("service:my_day")
            elif action == "change":
                form = TaskForm(request.POST, account=task.account, owners=_owners(task.account))
                if form.is_valid():
                    services.task_update(actor=request.user, task=task, data=form.service_data())
                    messages.success(request, _("Saved."))
                    return redirect("service:task_detail", task.pk)
            elif action == "cancel":
                services.task_cancel(actor=request.user, task=task, reason=request.POST.get("reason", ""))
                messages.success(request, _("Cancelled."))
                return redirect("service:my_day")
        except ValidationError as exc:
            _add_errors(form if action == "change" else done, exc)
        except Conflict as exc:
            messages.error(request, str(exc))
        status = 400
    return render(
        request, "service/task_detail.html", {"task": task, "form": form, "done": done, "may": may}, status=status
    )


@login_required
@require_POST
def task_done_quick(request: HttpRequest, task_id: int) -> HttpResponse:
    """ "Done" from my day's list, with the outcome picked there."""
    task = _task(request, task_id)
    form = CompleteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose what came of it."))
        return redirect("service:my_day")
    try:
        services.task_complete(actor=request.user, task=task, outcome=form.cleaned_data["outcome"], notes="")
    except (Conflict, PermissionDenied) as exc:
        messages.error(request, str(exc) or _("You may not do this."))
    else:
        messages.success(request, _("Marked done."))
    return redirect("service:my_day")


def _cadence_writer(user: Any) -> None:
    if not can(user, Action.EDIT_SEGMENTS):
        raise PermissionDenied


def _rule_words(cadence: Cadence) -> str:
    from patron.discounts.describe import Names, rule_sentences

    days = ", ".join(str(d) for d in cadence.days)
    single = len(cadence.days) == 1 and cadence.days[0] == 1
    texts = {
        "every": _("every day since the last contact") if single else _("every %(days)s days since the last contact"),
        "after_first_order": _("%(days)s days after the first order"),
        "on_entering": _("within %(days)s days of entering %(classes)s"),
        "before_birthday": _("%(days)s days before the birthday"),
    }
    rule = {"who": {"classes": cadence.classes}}
    classes = rule_sentences(rule, Names.for_rules([rule]))["who"] if cadence.classes else ""
    who = {"who": cadence.target}
    accounts = rule_sentences(who, Names.for_rules([who]))["who"]
    return _("%(when)s; for %(who)s") % {
        "when": texts.get(cadence.rule, cadence.rule) % {"days": days, "classes": classes},
        "who": accounts,
    }


@login_required
def cadence_list(request: HttpRequest) -> HttpResponse:
    _cadence_writer(request.user)
    cadences = [(c, _rule_words(c)) for c in Cadence.objects.all()]
    return render(request, "service/cadence_list.html", {"cadences": cadences})


@login_required
def cadence_form(request: HttpRequest, cadence_id: int | None = None) -> HttpResponse:
    from .cadences import cadence_save

    _cadence_writer(request.user)
    cadence = get_object_or_404(Cadence, pk=cadence_id) if cadence_id else None
    initial: dict[str, Any] = {"active": True}
    if cadence is not None:
        initial = {
            "name": cadence.name,
            "rule": cadence.rule,
            "days": ", ".join(str(d) for d in cadence.days),
            "classes": cadence.classes,
            "stages": cadence.target.get("stages", []),
            "segments": cadence.target.get("classes", []),
            "subject": cadence.subject,
            "active": cadence.active,
        }
    form = CadenceForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                cadence_save(actor=request.user, data=form.service_data(), cadence=cadence)
            except ValidationError as exc:
                for field, texts in error_dict(exc).items():
                    for text in texts:
                        target = {"target.stages": "stages", "target.classes": "segments"}.get(field, field)
                        form.add_error(target if target in form.fields else None, text)
            else:
                messages.success(request, _("Saved."))
                return redirect("service:cadence_list")
        status = 400
    return render(request, "service/cadence_form.html", {"form": form, "cadence": cadence}, status=status)


@login_required
def jobs(request: HttpRequest) -> HttpResponse:
    """The scheduler's health: every job's last run, the next expected, failures; a missed run stands out."""
    from .jobs import job_health

    if not can(request.user, Action.MANAGE_SETTINGS):
        raise PermissionDenied
    return render(request, "service/jobs.html", {"health": job_health(errors=True)})


# --- surveys ------------------------------------------------------------------------------------------------


def _surveyor(user: Any) -> None:
    if not (can(user, Action.EDIT_COUPONS) or can(user, Action.EDIT_SEGMENTS)):
        raise PermissionDenied


@login_required
def survey_list(request: HttpRequest) -> HttpResponse:
    from django.db.models import Count, Q

    from .models import Survey

    _surveyor(request.user)
    surveys = Survey.objects.annotate(
        asked=Count("sends__recipients", filter=~Q(sends__recipients__status="no_address")),
        answered=Count("sends__recipients", filter=Q(sends__recipients__answered_at__isnull=False)),
    )
    return render(request, "service/survey_list.html", {"surveys": surveys})


@login_required
def survey_new(request: HttpRequest) -> HttpResponse:
    from .forms import SurveyForm
    from .surveys import survey_create

    _surveyor(request.user)
    form = SurveyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                survey = survey_create(actor=request.user, data=form.service_data())
            except ValidationError as exc:
                for field, texts in error_dict(exc).items():
                    target = form.field_of(field) if field.startswith("questions[") else None
                    if target is None and field in form.fields:
                        target = field
                    for text in texts:
                        form.add_error(target, text)
            else:
                messages.success(request, _("Saved."))
                return redirect("service:survey_detail", survey.pk)
        status = 400
    return render(request, "service/survey_form.html", {"form": form}, status=status)


@login_required
def survey_detail(request: HttpRequest, survey_id: int) -> HttpResponse:
    from patron.coupons.forms import RunForm

    from .models import Survey
    from .surveys import questions_of, survey_results, survey_send

    _surveyor(request.user)
    survey = get_object_or_404(Survey, pk=survey_id)
    if request.method == "POST":
        form = RunForm(request.POST)
        if form.is_valid():
            try:
                send = survey_send(actor=request.user, survey=survey, target=form.target())
            except ValidationError as exc:
                for texts in error_dict(exc).values():
                    for text in texts:
                        messages.error(request, text)
            else:
                asked = send.recipients.exclude(status="no_address").count()
                messages.success(
                    request, ngettext("Sent to %(n)s address.", "Sent to %(n)s addresses.", asked) % {"n": asked}
                )
        else:
            for field, problems in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                for problem in problems:
                    messages.error(request, f"{label}: {problem}" if label else str(problem))
        return redirect("service:survey_detail", survey.pk)
    results = survey_results(survey)
    labels = {q.key: q.text for q in questions_of(survey)}
    return render(
        request,
        "service/survey_detail.html",
        {
            "survey": survey,
            "questions": questions_of(survey),
            "results": results,
            "counts": [(labels.get(k, k), sorted(v.items())) for k, v in results["counts"].items()],
            "run_form": RunForm(initial={"holdout_percent": 0}),
            "answers": survey_answers(survey),
        },
    )


def survey_answers(survey: Any) -> list[Any]:
    from .models import SurveyRecipient

    return list(
        SurveyRecipient.objects.filter(send__survey=survey, answered_at__isnull=False)
        .select_related("account")
        .order_by("-answered_at")[:30]
    )


def survey_answer(request: HttpRequest, token: str) -> HttpResponse:
    """Public: the recipient's own page, reached only through the email's link; no sign-in."""
    from django.utils import translation

    from .models import SurveyRecipient
    from .surveys import answer_record, questions_of

    row = SurveyRecipient.objects.select_related("send__survey").filter(token=token).first()
    if row is None:
        raise Http404
    status, errors = 200, {}
    with translation.override(row.language):
        if request.method == "POST" and row.answered_at is None:
            try:
                row = answer_record(token, request.POST)
            except ValidationError as exc:
                errors, status = error_dict(exc), 400
        return render(
            request,
            "service/survey_answer.html",
            {
                "row": row,
                "survey": row.send.survey,
                "questions": questions_of(row.send.survey),
                "errors": errors,
                "scale": range(11),
                "stars": range(1, 6),
                "posted": request.POST,
            },
            status=status,
        )


# --- complaints ----------------------------------------------------------------------------------------------


def _visible_complaints(user: Any) -> Any:
    from patron.accounts.access import account_scope

    from .models import Complaint

    scope = account_scope(user, Action.VIEW_ACCOUNT, "account__")
    if scope is None:
        return Complaint.objects.none()
    return Complaint.objects.filter(scope)


@login_required
def complaint_list(request: HttpRequest) -> HttpResponse:
    from .complaints import complaint_stats
    from .models import Complaint

    _worker(request.user)
    cases = _visible_complaints(request.user).select_related("account", "owner")
    status = request.GET.get("status", "open")
    shown = cases.filter(status=status) if status in dict(Complaint.STATUSES) else cases
    if request.GET.get("overdue"):
        shown = shown.filter(status=Complaint.OPEN, resolve_by__lt=timezone.now())
    return render(
        request,
        "service/complaint_list.html",
        {
            "complaints": shown[:200],
            "stats": complaint_stats(cases),
            "status": status,
            "statuses": Complaint.STATUSES,
            "now": timezone.now(),
            "categories": dict(Complaint.CATEGORIES),
        },
    )


@login_required
def complaint_new(request: HttpRequest) -> HttpResponse:
    from .complaints import complaint_open
    from .forms import ComplaintForm

    if request.method == "GET" and not (request.GET.get("account") or "").strip():
        return _pick_account(request, "service:complaint_new", _("Record a complaint"))
    account = _account_to_work_on(request)
    owner = account.owner or request.user
    form = ComplaintForm(
        request.POST or None, account=account, owners=_owners(account), initial={"owner": owner.get_username()}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                case = complaint_open(actor=request.user, account=account, data=form.cleaned_data)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("Complaint %(number)s opened.") % {"number": case.number})
                return redirect("service:complaint_detail", case.pk)
        status = 400
    return render(request, "service/complaint_form.html", {"form": form, "account": account}, status=status)


@login_required
def complaint_detail(request: HttpRequest, complaint_id: int) -> HttpResponse:
    from . import complaints as service

    case = get_object_or_404(
        _visible_complaints(request.user).select_related("account", "owner", "contact"), pk=complaint_id
    )
    may = case.owner_id == request.user.pk or can(request.user, Action.EDIT_ACCOUNT, case.account)
    if request.method == "POST" and may:
        action = request.POST.get("action")
        try:
            if action == "respond":
                service.complaint_respond(actor=request.user, complaint=case, note=request.POST.get("note", ""))
                messages.success(request, _("First response recorded."))
            elif action == "resolve":
                service.complaint_resolve(
                    actor=request.user, complaint=case, resolution=request.POST.get("resolution", "")
                )
                messages.success(request, _("Resolved."))
            elif action == "confirm":
                service.complaint_confirm(actor=request.user, complaint=case)
                messages.success(request, _("Closed: the customer confirmed."))
            elif action == "reopen":
                service.complaint_reopen(actor=request.user, complaint=case, reason=request.POST.get("reason", ""))
                messages.success(request, _("Reopened, with fresh deadlines."))
        except ValidationError as exc:
            for texts in error_dict(exc).values():
                for text in texts:
                    messages.error(request, text)
        except Conflict as exc:
            messages.error(request, str(exc))
        return redirect("service:complaint_detail", case.pk)
    return render(request, "service/complaint_detail.html", {"case": case, "may": may, "now": timezone.now()})
