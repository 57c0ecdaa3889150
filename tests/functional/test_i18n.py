"""Translations: the zh_Hans catalog is complete and compiled, and users see Patron in their language.

The catalog is read with a small parser of its own (the standard library has none), and the committed
``.mo`` file is read with ``gettext.GNUTranslations``, so no gettext tool is needed to run these tests;
only the check that the catalog is in step with the source needs ``xgettext`` and is skipped without it.
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

import patron
from patron.accounts import services as account_services
from patron.core.errors import error_dict
from patron.sales import services as sales_services
from tests.api_client import ApiClient
from tests.factories import make_account, make_order, make_product

PACKAGE = Path(patron.__file__).parent
LOCALE = PACKAGE / "locale"
ZH_PO = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"
ZH_MO = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.mo"
EN_PO = LOCALE / "en" / "LC_MESSAGES" / "django.po"

# %(name)s and %(count)d, bare %s / %d, {name}, and HTML tags or <placeholders> such as "<token>".
PLACEHOLDER = re.compile(r"%\(\w+\)[sdfir]|%[sdfir]|\{\w*\}|</?[A-Za-z][^<>]*>")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Separators ("; " -> "；") are Chinese by their full-width punctuation, having no character.
CJK_PUNCTUATION = re.compile(r"[\u3000-\u303f\uff00-\uffef]")


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> str:
        """The key of the entry in a compiled catalog: context, EOT, message id."""
        return f"{self.msgctxt}\x04{self.msgid}" if self.msgctxt is not None else self.msgid


def parse_po(path: Path) -> list[Entry]:
    """The entries of a .po file, header first; obsolete ``#~`` entries are left out."""
    entries: list[Entry] = []
    current: Entry | None = None
    flags: set[str] = set()
    last = ""  # the keyword the next continuation line belongs to

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#,"):
            flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith('"'):
            assert current is not None, f"{path}:{number}: a continuation line before any msgid"
            assert last, f"{path}:{number}: a continuation line with nothing to continue"
            text = ast.literal_eval(line)
        else:
            keyword, _, rest = line.partition(" ")
            text = ast.literal_eval(rest)
            # An entry starts at its msgctxt, or at its msgid when it has no context.
            if keyword == "msgctxt" or (keyword == "msgid" and last != "msgctxt"):
                current = Entry(flags=flags, line=number)
                entries.append(current)
                flags = set()
            assert current is not None, f"{path}:{number}: {keyword} before any msgid"
            plural = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if plural:
                keyword = f"msgstr{plural.group(1)}"
            elif keyword == "msgstr":
                keyword = "msgstr0"
            elif keyword not in ("msgctxt", "msgid", "msgid_plural"):
                raise AssertionError(f"{path}:{number}: unexpected line {raw!r}")
            last = keyword
            if keyword.startswith("msgstr"):
                current.msgstr[int(keyword[6:])] = ""
            else:
                setattr(current, keyword, "")
        if last.startswith("msgstr"):
            current.msgstr[int(last[6:])] += text
        else:
            setattr(current, last, (getattr(current, last) or "") + text)
    return entries


def messages(path: Path) -> list[Entry]:
    """The translatable entries: everything but the header."""
    entries = parse_po(path)
    assert entries, f"{path} has no entries"
    assert entries[0].msgid == "", f"{path} has no header"
    return entries[1:]


def placeholders(text: str) -> Counter[str]:
    return Counter(PLACEHOLDER.findall(text))


# ---- the catalog ---------------------------------------------------------------------------------------


def test_the_parser_reads_contexts_plurals_and_continued_lines(tmp_path):
    po = tmp_path / "t.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Plural-Forms: nplurals=1; plural=0;\\n"\n\n'
        '#: a.py:1\n#, python-format\nmsgctxt "sales document"\nmsgid "Order"\nmsgstr "订单"\n\n'
        'msgid ""\n"Long "\n"text"\nmsgstr ""\n"长"\n"文本"\n\n'
        'msgid "%(n)s day"\nmsgid_plural "%(n)s days"\nmsgstr[0] "%(n)s 天"\n\n'
        '#, fuzzy\nmsgid "Old"\nmsgstr "旧"\n\n'
        '#~ msgid "Gone"\n#~ msgstr "没了"\n',
        encoding="utf-8",
    )
    order, long, days, old = messages(po)
    assert (order.msgctxt, order.msgid, order.msgstr, order.flags) == (
        "sales document",
        "Order",
        {0: "订单"},
        {"python-format"},
    )
    assert order.key == "sales document\x04Order"
    assert (long.msgid, long.msgstr) == ("Long text", {0: "长文本"})
    assert (days.msgid_plural, days.msgstr) == ("%(n)s days", {0: "%(n)s 天"})
    assert old.flags == {"fuzzy"}


def test_zh_hans_catalog_has_no_untranslated_or_fuzzy_entry():
    entries = messages(ZH_PO)
    assert len(entries) > 500  # the whole interface, not a sample
    untranslated = [e.msgid for e in entries if not e.msgstr or not all(s.strip() for s in e.msgstr.values())]
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    assert untranslated == []
    assert fuzzy == []
    assert "fuzzy" not in parse_po(ZH_PO)[0].flags, "the header is still marked fuzzy"


def test_zh_hans_catalog_has_one_plural_form_filled():
    header = parse_po(ZH_PO)[0].msgstr[0]
    assert "Plural-Forms: nplurals=1; plural=0;" in header
    assert "Language: zh_Hans" in header
    plurals = [e for e in messages(ZH_PO) if e.msgid_plural]
    assert plurals, "the catalog has plural entries"
    for entry in plurals:
        assert set(entry.msgstr) == {0}, entry.msgid


def test_every_placeholder_and_tag_of_a_msgid_is_kept_in_its_translation():
    wrong = []
    for entry in messages(ZH_PO):
        expected = placeholders(entry.msgid_plural or entry.msgid)
        if entry.msgid_plural:
            # Chinese has one form, for every count: it must name what the plural names.
            assert placeholders(entry.msgid).keys() <= expected.keys(), entry.msgid
        for text in entry.msgstr.values():
            if placeholders(text) != expected:
                wrong.append((entry.msgid, text))
    assert wrong == []


def test_zh_hans_translations_are_chinese():
    """A msgstr copied from its msgid slips past "not empty"; all but a few words must be Chinese."""
    same_in_both = {"SKU", "English", "Patron admin"}
    latin = [
        e.msgid
        for e in messages(ZH_PO)
        if e.msgid not in same_in_both
        and not CJK.search(e.msgstr[0])
        # Placeholders are not words: "%(sentence)s." is punctuation only, and its translation too.
        and not (
            not re.search(r"[A-Za-z]", re.sub(r"%\(\w+\)[sd]", "", e.msgid)) and CJK_PUNCTUATION.search(e.msgstr[0])
        )
    ]
    assert latin == []


def test_the_glossary_words_are_used():
    zh = {e.key: e.msgstr[0] for e in messages(ZH_PO)}
    assert zh["Accounts"] == "客户"
    assert zh["Key account"] == "大客户"
    assert zh["Contacts"] == "联系人"
    assert zh["Credit limit"] == "信用额度"
    assert zh["Payment terms"] == "账期"
    assert zh["sales document\x04Order"] == zh["Order"] == "订单"
    assert zh["Payments"] == zh["Payment"] == "回款"
    assert zh["Dashboard"] == "工作台"


def test_the_committed_mo_files_match_the_catalogs():
    """Someone who edits a .po and forgets ``compilemessages`` ships the old words; this catches it."""
    with ZH_MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in messages(ZH_PO):
        if entry.msgid_plural:
            got = compiled.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, 1) if entry.msgctxt else None
            got = got or compiled.ngettext(entry.msgid, entry.msgid_plural, 1)
        elif entry.msgctxt is not None:
            got = compiled.pgettext(entry.msgctxt, entry.msgid)
        else:
            got = compiled.gettext(entry.msgid)
        if got != entry.msgstr[0]:
            stale.append(entry.msgid)
    assert stale == []
    assert (LOCALE / "en" / "LC_MESSAGES" / "django.mo").exists()


def test_english_is_the_source_and_every_msgid_is_english():
    entries = messages(EN_PO)
    assert {e.key for e in entries} == {e.key for e in messages(ZH_PO)}
    assert [e.msgid for e in entries if CJK.search(e.msgid)] == []
    assert [e.msgid for e in entries if any(e.msgstr.values())] == []


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("xgettext") is None or shutil.which("msgmerge") is None, reason="needs gettext")
def test_the_catalogs_hold_every_string_of_the_source(tmp_path, monkeypatch):
    """A string marked for translation but missing from the catalog would show in English to everyone.

    ``makemessages`` runs on a copy of the package, so the committed catalogs are never touched.
    """
    copy = tmp_path / "patron"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "static"))
    monkeypatch.chdir(copy)
    with override_settings(LOCALE_PATHS=[copy / "locale"]):
        call_command(
            "makemessages", locale=["zh_Hans"], no_obsolete=True, ignore_patterns=["migrations/*"], verbosity=0
        )
    fresh = {e.key for e in messages(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")}
    committed = {e.key for e in messages(ZH_PO)}
    assert sorted(fresh - committed) == [], "run `make messages` and translate the new entries"
    assert sorted(committed - fresh) == [], "run `make messages` to drop entries the source no longer has"


# ---- what users see --------------------------------------------------------------------------------------

ENGLISH_CHROME = ["Dashboard", "Accounts", "Orders", "Invoices", "Products", "Sign out", "Skip to content"]
CHINESE_CHROME = ["工作台", "客户", "订单", "发票", "产品", "退出登录"]


def visible_text(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def words_in(text: str, words: list[str]) -> list[str]:
    return [w for w in words if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)]


@pytest.fixture
def pages(staff):
    """The dashboard, account list, account page and order page of one salesperson's account."""
    # Timeline subjects are stored in the language active when they are written; English here, so that
    # the Chinese pages' words come from the catalog alone.
    with translation.override("en"):
        account = make_account(staff.sales, code="TEA-1", name="Longjing Trading", is_key_account=True)
        order = make_order(staff.sales, account, [(make_product(name="West Lake tea"), "3")])
    return {
        "dashboard": reverse("home"),
        "account list": reverse("accounts:list"),
        "account": reverse("accounts:detail", args=[account.code]),
        "order": reverse("sales:order_detail", args=[order.number]),
    }


@pytest.mark.django_db
def test_a_chinese_user_sees_the_pages_in_chinese(client, staff, pages):
    assert staff.sales.language == "zh-hans"  # the default for a new user
    client.force_login(staff.sales)
    expected = {
        "dashboard": ["工作台", "查找客户", "大客户", "本月销售额", "最近订单"],
        "account list": ["客户", "负责人", "地区", "筛选", "已保存视图", "大客户"],
        "account": ["基本资料", "联系人", "订单", "动态", "变更记录", "信用额度", "账期", "新建订单"],
        "order": ["订单", "已确认", "明细", "数量", "成交金额", "标价合计", "登记退货"],
    }
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        assert response["Content-Language"] == "zh-hans"
        text = visible_text(response)
        assert [w for w in CHINESE_CHROME + expected[name] if w not in text] == [], name
        assert words_in(text, ENGLISH_CHROME) == [], name
    order_page = visible_text(client.get(pages["order"]))
    assert words_in(order_page, ["Confirmed", "Quantity", "Net total", "List total", "Record a return"]) == []


@pytest.mark.django_db
def test_an_english_user_sees_the_same_pages_in_english(client, staff, pages):
    staff.sales.language = "en"
    staff.sales.save(update_fields=["language"])
    client.force_login(staff.sales)
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        assert response["Content-Language"] == "en"
        text = visible_text(response)
        assert words_in(text, ENGLISH_CHROME) == ENGLISH_CHROME, name
        assert [w for w in CHINESE_CHROME if w in text] == [], name
    assert "Record a return" in visible_text(client.get(pages["order"]))


@pytest.mark.django_db
def test_plural_and_placeholder_strings_render_in_chinese(client, staff):
    account = make_account(staff.sales, code="TEA-2", payment_terms_days=30)
    client.force_login(staff.sales)
    text = visible_text(client.get(reverse("accounts:detail", args=[account.code])))
    assert "30 天" in text
    dashboard = visible_text(client.get(reverse("home")))
    assert "近 90 天下单客户" in dashboard


# ---- messages from the API and the services ---------------------------------------------------------------


@pytest.mark.django_db
def test_api_validation_errors_come_back_in_the_users_language(staff):
    api = ApiClient(staff.sales)  # language zh-hans
    response = api.post("/api/accounts", {"code": "TEA 1", "name": "Longjing Trading"})
    assert response.status_code == 422
    errors = {tuple(item["loc"]): item["msg"] for item in response.json()["detail"]}
    assert errors[("body", "code")] == "不能包含空格。"

    english = api.post(
        "/api/accounts", {"code": "TEA 1", "name": "Longjing Trading"}, headers={"Accept-Language": "en"}
    )
    assert english.status_code == 422
    assert {item["msg"] for item in english.json()["detail"]} == {"Must not contain spaces."}


@pytest.mark.django_db
def test_api_refusals_are_in_chinese_too(staff):
    response = ApiClient(staff.sales).get("/api/orders/NO-SUCH-ORDER")
    assert response.status_code == 404
    assert response.json()["detail"] == "未找到。"


@pytest.mark.django_db
def test_service_validation_errors_are_translated(staff):
    with translation.override("zh-hans"):
        with pytest.raises(ValidationError) as raised:
            account_services.account_create(
                actor=staff.sales, data={"code": "TEA 1", "name": "Longjing Trading", "credit_limit": "-1"}
            )
        errors = error_dict(raised.value)
        assert errors["code"] == ["不能包含空格。"]
        assert errors["credit_limit"] == ["不能为负数。"]

        account = make_account(staff.sales)
        with pytest.raises(ValidationError) as raised:
            sales_services.order_create(actor=staff.sales, account=account, lines=[])
        assert "订单至少需要一行明细。" in str(raised.value)

    with translation.override("en"), pytest.raises(ValidationError) as raised:
        account_services.account_create(actor=staff.sales, data={"code": "TEA 1", "name": "Longjing Trading"})
    assert error_dict(raised.value)["code"] == ["Must not contain spaces."]
