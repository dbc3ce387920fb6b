"""The chapter's exercises 7 and 8 as generated datasets: embedded Reber strings to classify, and dates to convert.

- `reber_dataset(...)`: a `DatasetDict` of strings (`text`) and labels (`label`: 1 grammatical, 0 not) of the embedded
  Reber grammar of Jenny Orr's page (Hochreiter and Schmidhuber's LSTM paper). About half the strings are
  grammatical; the others are grammatical strings with one corrupting edit (a character substituted, inserted or
  deleted), each checked by the recogniser `is_embedded_reber` to be really ungrammatical. The edit may fall anywhere,
  also on the second or the second-to-last character, which must agree: a classifier has to remember the second
  character across the whole inner Reber string, the long-range dependency the grammar was made for (by default a
  quarter of the corruptions are such branch swaps: `branch_swap_share`). Splits hold distinct strings (no
  validation or test string is a training string); `long` holds strings longer than any training string.
- `dates_dataset(...)`: a `DatasetDict` of (`source`, `target`, `references`) pairs, a date written in one of
  `DATE_FORMATS` ("April 22, 2019", "22.04.2019", ...) and its ISO 8601 form ("2019-04-22"). The formats are
  unambiguous: slashes are always month/day/year, dots always day.month.year, and `parse_date` reads each source back
  to one date. Validation dates are held out from training within the training years; the `test` part holds dates of
  years outside them.

Both are plain `datasets.Dataset`s built with `Dataset.from_dict`, deterministic given their seed.
"""

import datetime
import random
import re
from collections.abc import Callable

from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value


# Embedded Reber grammar -------------------------------------------------------------------------------------------

# Jenny Orr's Reber grammar: state -> [(symbol, next state)]; None is the end. Every state's symbols differ, so the
# grammar is deterministic and a string is recognised by following it.
REBER_TRANSITIONS = {
    0: [("B", 1)],
    1: [("T", 2), ("P", 3)],
    2: [("S", 2), ("X", 4)],
    3: [("T", 3), ("V", 5)],
    4: [("X", 3), ("S", 6)],
    5: [("P", 4), ("V", 6)],
    6: [("E", None)],
}
REBER_ALPHABET = "BEPSTVX"
REBER_LABELS = ["UNGRAMMATICAL", "GRAMMATICAL"]


def generate_reber(rng: random.Random) -> str:
    """A random string of the (plain) Reber grammar, each branch taken with probability 1/2, e.g. "BTSSXXVPSE"."""
    state, symbols = 0, []
    while state is not None:
        symbol, state = rng.choice(REBER_TRANSITIONS[state])
        symbols.append(symbol)
    return "".join(symbols)


def generate_embedded_reber(rng: random.Random) -> str:
    """A random string of the embedded Reber grammar: B, then T or P, a Reber string, the same T or P again, and E,
    e.g. "BPBTSXXVPSEPE"."""
    branch = rng.choice("TP")
    return f"B{branch}{generate_reber(rng)}{branch}E"


def is_reber(text: str) -> bool:
    """Whether `text` is a string of the (plain) Reber grammar."""
    state = 0
    for symbol in text:
        if state is None:
            return False  # characters after the final E
        state = next((target for emitted, target in REBER_TRANSITIONS[state] if emitted == symbol), -1)
        if state == -1:
            return False
    return state is None


def is_embedded_reber(text: str) -> bool:
    """The recogniser: whether `text` is a string of the embedded Reber grammar."""
    return (len(text) >= 4 and text[0] == "B" and text[1] in "TP" and text[-2] == text[1] and text[-1] == "E"
            and is_reber(text[2:-2]))


def corrupt(text: str, rng: random.Random, alphabet: str = REBER_ALPHABET) -> str:
    """`text` with one edit: a character substituted by another, a character inserted, or one deleted (each edit
    kind with probability 1/3, at a uniform position). The result may still be grammatical: `ungrammatical_reber`
    checks it."""
    edit = rng.choice(("substitute", "insert", "delete"))
    if edit == "insert":
        position = rng.randrange(len(text) + 1)
        return text[:position] + rng.choice(alphabet) + text[position:]
    position = rng.randrange(len(text))
    if edit == "delete":
        return text[:position] + text[position + 1:]
    replacement = rng.choice([symbol for symbol in alphabet if symbol != text[position]])
    return text[:position] + replacement + text[position + 1:]


def swap_branch(text: str, rng: random.Random) -> str:
    """`text` with its second or its second-to-last symbol (the embedded branch, T or P) substituted by the other
    one: a one-character substitution that breaks only the long-range agreement of the embedded grammar."""
    position = rng.choice((1, len(text) - 2))
    return text[:position] + {"T": "P", "P": "T"}.get(text[position], text[position]) + text[position + 1:]


def ungrammatical_reber(rng: random.Random, branch_swap_share: float = 0.0, max_tries: int = 1000) -> str:
    """A grammatical embedded Reber string with one corrupting edit that the recogniser rejects: with probability
    `branch_swap_share` the branch symbol swapped at one end (`swap_branch`), else a uniform edit (`corrupt`)."""
    for _ in range(max_tries):
        edit = swap_branch if rng.random() < branch_swap_share else corrupt
        candidate = edit(generate_embedded_reber(rng), rng)
        if not is_embedded_reber(candidate):
            return candidate
    raise RuntimeError("no ungrammatical string found")  # pragma: no cover (most edits break the grammar)


def _reber_strings(rng: random.Random, count: int, keep: Callable[[str], bool], exclude: set[str],
                   branch_swap_share: float) -> list[tuple]:
    """`count` distinct (string, label) rows, half of them grammatical (label 1), whose string `keep` accepts and is
    not in `exclude`, in random order; `branch_swap_share` of the ungrammatical ones are branch swaps (drawn apart,
    so that the share holds even though short swaps repeat more often than uniform edits)."""
    negatives = count // 2
    swaps = round(branch_swap_share * negatives)
    groups = ((1, generate_embedded_reber, count - negatives),
              (0, lambda rng: ungrammatical_reber(rng, branch_swap_share=1.0), swaps),
              (0, lambda rng: ungrammatical_reber(rng, branch_swap_share=0.0), negatives - swaps))
    rows, found = [], set()
    for label, draw, wanted in groups:
        drawn, misses = 0, 0
        while drawn < wanted:
            text = draw(rng)
            if keep(text) and text not in exclude and text not in found:
                found.add(text)
                rows.append((text, label))
                drawn, misses = drawn + 1, 0
            else:
                misses += 1
                if misses > 100_000:
                    raise ValueError(f"could not draw {wanted} distinct strings of that length range (found "
                                     f"{drawn}): ask for fewer, or allow longer strings.")
    rng.shuffle(rows)
    return rows


def reber_dataset(num_train: int = 10_000, num_validation: int = 2_000, num_test: int = 2_000, num_long: int = 1_000,
                  max_train_length: int = 30, max_long_length: int = 60, branch_swap_share: float = 0.25,
                  seed: int = 42) -> DatasetDict:
    """Embedded Reber strings to classify: train / validation / test of strings of at most `max_train_length`
    characters, and `long` of strings of `max_train_length + 1` to `max_long_length` characters (longer than any
    training string). Each split is about half grammatical (label 1) and half one-edit corruptions (label 0); all its
    strings are distinct and none of the held-out splits' strings is a training string. Columns `text`, `label`
    (a `ClassLabel`: UNGRAMMATICAL, GRAMMATICAL).

    `branch_swap_share` of the corruptions substitute the second or the second-to-last symbol by the other branch
    symbol (`swap_branch`; the others are uniform edits, `corrupt`): the strings that only the long-range agreement
    tells apart. A uniform edit (`corrupt`)
    lands there in about 1% of the corruptions of these lengths, too rarely for a classifier to learn the
    dependency (and for a test to measure it); 0 makes every corruption uniform."""
    for name, value in (("num_train", num_train), ("num_validation", num_validation), ("num_test", num_test),
                        ("num_long", num_long)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}.")
    if num_train < 2:
        raise ValueError(f"num_train must be at least 2, got {num_train}.")
    if not 0 <= branch_swap_share <= 1:
        raise ValueError(f"branch_swap_share must be in [0, 1], got {branch_swap_share}.")
    if not 9 <= max_train_length < max_long_length:
        raise ValueError("max_train_length must be at least 9 (the shortest embedded Reber string) and below "
                         f"max_long_length, got {max_train_length} and {max_long_length}.")
    rng = random.Random(seed)
    features = Features({"text": Value("string"), "label": ClassLabel(names=REBER_LABELS)})
    short = lambda text: len(text) <= max_train_length  # noqa: E731
    long = lambda text: max_train_length < len(text) <= max_long_length  # noqa: E731
    train = _reber_strings(rng, num_train, short, set(), branch_swap_share)
    seen = {text for text, _ in train}
    splits = {"train": train}
    for name, count, keep in (("validation", num_validation, short), ("test", num_test, short),
                              ("long", num_long, long)):
        if count:
            splits[name] = _reber_strings(rng, count, keep, seen, branch_swap_share)
            seen |= {text for text, _ in splits[name]}
    return DatasetDict({
        name: Dataset.from_dict({"text": [text for text, _ in rows], "label": [label for _, label in rows]},
                                features=features)
        for name, rows in splits.items()
    })


# Dates ------------------------------------------------------------------------------------------------------------

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


# Each format writes a date one way. Unambiguous by construction: numeric month/day/year only with slashes, numeric
# day.month.year only with dots; every other format spells the month.
DATE_FORMATS: dict[str, Callable[[datetime.date], str]] = {
    "month_day_year": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",            # April 22, 2019
    "day_month_year": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",             # 22 April 2019
    "abbreviated": lambda d: f"{MONTHS[d.month - 1][:3]} {d.day} {d.year}",            # Apr 22 2019
    "day_abbreviated": lambda d: f"{d.day:02d}-{MONTHS[d.month - 1][:3]}-{d.year}",    # 22-Apr-2019
    "ordinal": lambda d: f"{MONTHS[d.month - 1]} {_ordinal(d.day)}, {d.year}",         # April 22nd, 2019
    "weekday": lambda d: f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}",  # Monday, April 22, 2019
    "us_slashes": lambda d: f"{d.month}/{d.day}/{d.year}",                             # 4/22/2019
    "us_slashes_padded": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",              # 04/22/2019
    "european_dots": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",                  # 22.04.2019
}


def format_date(date: datetime.date, date_format: str) -> str:
    """`date` written in `date_format` (a key of `DATE_FORMATS`)."""
    if date_format not in DATE_FORMATS:
        raise ValueError(f"date_format must be one of {', '.join(DATE_FORMATS)}, got {date_format!r}.")
    return DATE_FORMATS[date_format](date)


_MONTH = "(?P<month_name>" + "|".join(MONTHS) + ")"
_MON = "(?P<month_abbreviation>" + "|".join(name[:3] for name in MONTHS) + ")"
_DAY, _YEAR, _NUMERIC_MONTH = r"(?P<day>\d{1,2})", r"(?P<year>\d{4})", r"(?P<month>\d{1,2})"
# The reader: patterns written apart from DATE_FORMATS (tests read every generated source back with them).
_DATE_PATTERNS = [
    re.compile(pattern)
    for pattern in (
        rf"{_MONTH} {_DAY}, {_YEAR}",
        rf"{_DAY} {_MONTH} {_YEAR}",
        rf"{_MON} {_DAY} {_YEAR}",
        rf"{_DAY}-{_MON}-{_YEAR}",
        rf"{_MONTH} {_DAY}(?P<suffix>st|nd|rd|th), {_YEAR}",
        rf"(?P<weekday>{'|'.join(WEEKDAYS)}), {_MONTH} {_DAY}, {_YEAR}",
        rf"{_NUMERIC_MONTH}/{_DAY}/{_YEAR}",
        rf"{_DAY}\.{_NUMERIC_MONTH}\.{_YEAR}",
    )
]


def parse_date(text: str) -> datetime.date:
    """The date `text` writes, in any of `DATE_FORMATS`; a `ValueError` if no pattern reads it, if two patterns read
    it as different dates (an ambiguous text), or if its weekday or ordinal suffix is wrong."""
    dates = set()
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(text)
        if not match:
            continue
        fields = match.groupdict()
        if fields.get("month_name"):
            month = MONTHS.index(fields["month_name"]) + 1
        elif fields.get("month_abbreviation"):
            month = [name[:3] for name in MONTHS].index(fields["month_abbreviation"]) + 1
        else:
            month = int(fields["month"])
        date = datetime.date(int(fields["year"]), month, int(fields["day"]))
        if fields.get("weekday") and WEEKDAYS[date.weekday()] != fields["weekday"]:
            raise ValueError(f"{text!r}: {date} is not a {fields['weekday']}.")
        if fields.get("suffix") and _ordinal(date.day) != fields["day"] + fields["suffix"]:
            raise ValueError(f"{text!r}: the day's ordinal suffix is {_ordinal(date.day)!r}.")
        dates.add(date)
    if not dates:
        raise ValueError(f"{text!r} is not a date in any of the known formats.")
    if len(dates) > 1:
        raise ValueError(f"{text!r} is ambiguous: {sorted(dates)}.")
    return dates.pop()


def _random_dates(rng: random.Random, year_ranges: tuple[tuple[int, int], ...]):
    """Endless uniform random dates of the (inclusive) `year_ranges`."""
    days = [(datetime.date(low, 1, 1).toordinal(), datetime.date(high, 12, 31).toordinal())
            for low, high in year_ranges]
    weights = [end - start + 1 for start, end in days]
    while True:
        start, end = rng.choices(days, weights)[0]
        yield datetime.date.fromordinal(rng.randint(start, end))


def parse_year_ranges(text: str, argument: str = "year ranges") -> tuple[tuple[int, int], ...]:
    """"1900-2049" or "1000-1799,1900-2049" as ((1000, 1799), (1900, 2049)); a `ValueError` naming `argument`."""
    ranges = []
    for item in text.split(","):
        low, separator, high = item.strip().partition("-")
        try:
            ranges.append((int(low), int(high if separator else low)))
        except ValueError:
            raise ValueError(f"{argument}: {item!r} is not a year or a range of years such as 1900-2049.") from None
    return tuple(ranges)


def _check_year_ranges(year_ranges, name: str) -> None:
    if not year_ranges:
        raise ValueError(f"{name} must hold at least one range of years.")
    for low, high in year_ranges:
        if not 1 <= low <= high <= 9999:
            raise ValueError(f"{name}: {low}-{high} is not a range of years with 1 <= first <= last <= 9999.")


def dates_dataset(num_train: int = 20_000, num_validation: int = 2_000, num_test: int = 2_000,
                  train_years: tuple[tuple[int, int], ...] = ((1900, 2049),),
                  test_years: tuple[tuple[int, int], ...] = ((1800, 1899), (2050, 2099)),
                  formats: tuple[str, ...] | None = None, seed: int = 42) -> DatasetDict:
    """Dates to convert to ISO 8601: `train` and `validation` dates of the `train_years` ranges (inclusive), each
    written in a random one of `formats` (default: every one of `DATE_FORMATS`), `validation` sources never seen in
    training; `test`: dates of the `test_years` ranges, which must not meet any training range (default: 1800-1899
    and 2050-2099 around a training range of 1900-2049). Every source is distinct. Columns `source`, `target` (e.g.
    "2019-04-22") and `references` (`[target]`, as `train_translation.py`'s held-out parts have), so that
    `scripts/train_translation.py --task dates` trains on it as on translation pairs."""
    formats = tuple(formats or DATE_FORMATS)
    for date_format in formats:
        format_date(datetime.date(2000, 1, 1), date_format)  # ValueError for an unknown format
    if num_train < 1 or num_validation < 0 or num_test < 0:
        raise ValueError(f"num_train must be >= 1, num_validation and num_test >= 0, got {num_train}, "
                         f"{num_validation}, {num_test}.")
    _check_year_ranges(train_years, "train_years")
    if num_test:
        _check_year_ranges(test_years, "test_years")
    for low, high in test_years:
        for first, last in train_years:
            if not (high < first or low > last):
                raise ValueError(f"test_years {low}-{high} must lie outside train_years {first}-{last}.")
    # Every source is distinct: more sources than the ranges' days × formats could never be drawn.
    for name, ranges, count in (("train_years", train_years, num_train + num_validation), ("test_years", test_years,
                                                                                           num_test)):
        days = sum((datetime.date(high, 12, 31) - datetime.date(low, 1, 1)).days + 1 for low, high in ranges)
        if count and count > days * len(formats):
            raise ValueError(f"{name} {ranges} hold {days * len(formats):,} distinct sources ({days:,} days × "
                             f"{len(formats)} formats), fewer than the {count:,} asked for: widen the years.")
    rng = random.Random(seed)
    seen = set()

    def draw(count, dates):
        rows = []
        while len(rows) < count:
            date = next(dates)
            source = format_date(date, rng.choice(formats))
            if source not in seen:
                seen.add(source)
                rows.append((source, date.isoformat()))
        return rows

    splits = {"train": draw(num_train, _random_dates(rng, train_years))}
    if num_validation:
        splits["validation"] = draw(num_validation, _random_dates(rng, train_years))
    if num_test:
        splits["test"] = draw(num_test, _random_dates(rng, test_years))
    features = Features({"source": Value("string"), "target": Value("string"),
                         "references": Sequence(Value("string"))})
    return DatasetDict({
        name: Dataset.from_dict({"source": [source for source, _ in rows], "target": [target for _, target in rows],
                                 "references": [[target] for _, target in rows]}, features=features)
        for name, rows in splits.items()
    })


__all__ = [
    "DATE_FORMATS",
    "REBER_ALPHABET",
    "REBER_LABELS",
    "corrupt",
    "dates_dataset",
    "format_date",
    "generate_embedded_reber",
    "generate_reber",
    "is_embedded_reber",
    "is_reber",
    "parse_date",
    "parse_year_ranges",
    "reber_dataset",
    "swap_branch",
    "ungrammatical_reber",
]
