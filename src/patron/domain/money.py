"""Money as an exact amount in a currency, and every rounding rule Patron uses.

This module is the one place where money is rounded. The rules:

1. Amounts are ``Decimal``; a float is refused at construction.
2. Each currency has a number of minor units (CNY, USD, EUR, HKD: 2; JPY, KRW: 0).
   A *stored amount* (an order total, an invoice, a payment) has at most that many
   decimals; input with more decimals is an error, never silently rounded. Integer
   digits plus decimals stay within ``SIGNIFICANT_DIGITS`` (15), so every amount is
   exact on both databases (up to 9,999,999,999,999.99 for two decimals).
3. A *unit price* may carry up to ``UNIT_PRICE_PLACES`` (4) decimals, because list
   prices per gram or per metre need them; a line amount (quantity x unit price)
   is rounded to the currency's minor unit.
4. Rounding is ROUND_HALF_UP to the currency's minor unit (commercial rounding, as
   Chinese invoices (发票) and most ERPs do), applied once, at the line amount.
5. A split of an amount over parts (a cart discount over lines, a payment over
   invoices) is done with ``allocate``: proportional shares rounded half-up, and the
   difference from rounding given to the part with the largest weight (the first
   such part on ties), so the parts always add up to the whole exactly.
6. Conversion to the company currency uses the rate dated on or before the
   document date and rounds the result half-up to the company currency's minor unit.
7. Discounts (``patron.domain.pricing``) are worked out on line *amounts*, not unit
   prices: each discount on a line is rounded half-up to the minor unit once, when it
   is given; a percent applies to what the line costs after the discounts before it
   (they compound, in the rules' order); a cart discount (满减, amount off the cart)
   is split over its lines with ``allocate`` (rule 5). So every line's net amount is
   its list amount less its discounts, and the lines add up to the quote's total
   exactly. A net *unit* price is the net amount / quantity to 4 places, for display.
8. Rebates (``patron.domain.rebates``) are worked out exactly on the period's volume and
   rounded half-up to the minor unit once, per account and period; incremental bands
   share that rounded amount with ``allocate`` (rule 5), so they add up to it. Documents
   in another currency are converted line by line first (rule 6). A cap applies to the
   rounded amount. A settlement pays what was earned less what was paid before, so
   partial and final settlements never round twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ROUNDING = ROUND_HALF_UP
UNIT_PRICE_PLACES = 4
# Integer digits + allowed decimals of any stored number. SQLite keeps decimal columns
# as 8-byte floats, exact to 15 significant digits; PostgreSQL's numeric(18, x) holds more.
SIGNIFICANT_DIGITS = 15

# ISO 4217 minor units of the currencies Patron accepts.
MINOR_UNITS: dict[str, int] = {
    "CNY": 2,
    "USD": 2,
    "EUR": 2,
    "HKD": 2,
    "GBP": 2,
    "SGD": 2,
    "TWD": 2,
    "AUD": 2,
    "JPY": 0,
    "KRW": 0,
}
CURRENCIES: tuple[str, ...] = tuple(sorted(MINOR_UNITS))


class MoneyError(ValueError):
    """A money value that cannot be what the caller asked for; ``code`` names the problem."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


class CurrencyMismatch(MoneyError):
    pass


def minor_units(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise MoneyError(f"unknown currency {currency!r}", "unknown_currency") from None


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit by the one rounding rule (half-up)."""
    return amount.quantize(quantum(currency), rounding=ROUNDING)


def to_decimal(value: object) -> Decimal:
    """Parse user input into a Decimal; refuse floats, which are not exact."""
    if isinstance(value, bool | float):
        raise MoneyError("amounts must be given as text or Decimal, not float", "float")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise MoneyError(f"{value!r} is not a number", "not_a_number") from None
    else:
        raise MoneyError(f"{value!r} is not a number", "not_a_number")
    if not result.is_finite():
        raise MoneyError("amount must be a finite number", "not_a_number")
    return result


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def check_places(value: Decimal, places: int, what: str = "amount") -> Decimal:
    """Refuse a value with more decimals than allowed, rather than round it silently."""
    if decimal_places(value) > places:
        raise MoneyError(f"{what} has more than {places} decimal places", "too_many_places")
    if value and value.adjusted() + 1 + places > SIGNIFICANT_DIGITS:
        raise MoneyError(f"{what} is too large", "too_large")
    return value


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            object.__setattr__(self, "amount", to_decimal(self.amount))
        minor_units(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def parse(cls, value: object, currency: str) -> Money:
        """A stored amount from input: at most the currency's minor units."""
        amount = check_places(to_decimal(value), minor_units(currency))
        return cls(amount, currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} cannot be combined", "currency_mismatch")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, float):
            raise MoneyError("multiply money by Decimal or int, not float", "float")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def __bool__(self) -> bool:
        return bool(self.amount)

    def rounded(self) -> Money:
        return Money(quantize(self.amount, self.currency), self.currency)

    def is_zero(self) -> bool:
        return self.amount == 0

    def __str__(self) -> str:
        return f"{quantize(self.amount, self.currency):,} {self.currency}"


def line_amount(quantity: Decimal, unit_price: Money) -> Money:
    """Quantity x unit price, rounded once to the currency's minor unit (rule 4)."""
    return (unit_price * quantity).rounded()


def allocate(total: Money, weights: Sequence[Decimal]) -> list[Money]:
    """Split ``total`` in proportion to ``weights`` so the parts add up exactly (rule 5).

    The rounding difference goes to the part with the largest weight, the first
    such part on ties. Zero total weight splits evenly by count.
    """
    if not weights:
        return []
    if any(w < 0 for w in weights):
        raise MoneyError("allocation weights must not be negative", "negative_weight")
    cur = total.currency
    whole = quantize(total.amount, cur)
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        weights = [Decimal(1)] * len(weights)
        weight_sum = Decimal(len(weights))
    shares = [quantize(whole * w / weight_sum, cur) for w in weights]
    diff = whole - sum(shares, Decimal(0))
    if diff:
        biggest = max(range(len(weights)), key=lambda i: (weights[i], -i))
        shares[biggest] += diff
    return [Money(s, cur) for s in shares]


def convert(money: Money, rate: Decimal, to_currency: str) -> Money:
    """Convert at ``rate`` (units of ``to_currency`` per unit of ``money``), rule 6."""
    if rate <= 0:
        raise MoneyError("exchange rate must be positive", "bad_rate")
    if money.currency == to_currency:
        return money
    return Money(quantize(money.amount * rate, to_currency), to_currency)
