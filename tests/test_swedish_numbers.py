"""Swedish identity numbers and postcodes, as the form engine normalises them."""

from datetime import date, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum import luhn

from samverkan.catalogue.swedish import (
    InvalidNumber,
    normalize_orgnr,
    normalize_personnummer,
    normalize_postnummer,
)

# A fixed "today" so that which century a ten-digit number belongs to never depends on
# when the suite runs.
TODAY = date(2026, 6, 1)


def with_check_digit(nine_digits: str) -> str:
    """YYMMDDNNN plus the Luhn digit that makes it a valid ten-digit number."""
    return nine_digits + luhn.calc_check_digit(nine_digits)


def ten_digit(yymmdd: str, birth_number: str = "123", separator: str = "-") -> str:
    digits = with_check_digit(yymmdd + birth_number)
    return f"{digits[:6]}{separator}{digits[6:]}"


def twelve_digit(yyyymmdd: str, birth_number: str = "123") -> str:
    digits = with_check_digit(yyyymmdd[2:] + birth_number)
    return f"{yyyymmdd[:2]}{digits[:6]}-{digits[6:]}"


# -- personnummer: accepted forms --------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "19811228-9874",
        "198112289874",
        "811228-9874",
        "8112289874",
        " 811228-9874 ",
        "811228 9874",
    ],
)
def test_personnummer_in_every_accepted_form_is_normalised_to_twelve_digits(value):
    assert normalize_personnummer(value, today=TODAY) == "19811228-9874"


def test_ten_digit_personnummer_with_minus_belongs_to_the_last_hundred_years():
    assert normalize_personnummer("121212-1212", today=TODAY) == "20121212-1212"


def test_plus_marks_a_person_aged_100_or_more_and_moves_the_century_back():
    assert normalize_personnummer("121212+1212", today=TODAY) == "19121212-1212"
    assert normalize_personnummer("811228+9874", today=TODAY) == "18811228-9874"


def test_plus_is_used_from_the_year_the_person_turns_100():
    # Born 24 December 1926: on 1 June 2026 they are 99 but write '+' all year.
    value = ten_digit("261224", "001", "+")
    assert normalize_personnummer(value, today=TODAY) == f"19{value[:6]}-{value[7:]}"


def test_ten_digit_birth_date_later_this_year_belongs_to_the_previous_century():
    value = ten_digit("261224", "001", "-")
    assert normalize_personnummer(value, today=TODAY).startswith("19261224-")


def test_separator_is_ignored_in_a_twelve_digit_personnummer():
    assert normalize_personnummer("19121212+1212", today=TODAY) == "19121212-1212"


def test_a_baby_born_today_has_a_valid_personnummer():
    value = twelve_digit(TODAY.strftime("%Y%m%d"))
    assert normalize_personnummer(value, today=TODAY) == value


def test_leap_day_is_accepted_in_a_leap_year():
    value = twelve_digit("20240229")
    assert normalize_personnummer(value, today=TODAY) == value


# -- samordningsnummer ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["701063-2391", "7010632391", "19701063-2391", "197010632391"])
def test_skatteverkets_samordningsnummer_example_is_accepted(value):
    assert normalize_personnummer(value, today=TODAY) == "19701063-2391"


def test_samordningsnummer_with_wrong_check_digit_is_refused():
    with pytest.raises(InvalidNumber):
        normalize_personnummer("701063-2392", today=TODAY)


@pytest.mark.parametrize("yymmdd", ["701060", "701092", "700291"])
def test_samordningsnummer_whose_real_day_is_no_date_is_refused(yymmdd):
    # Day 60 is day 0; day 92 is day 32; 91 in February is the 31st.
    with pytest.raises(InvalidNumber):
        normalize_personnummer(ten_digit(yymmdd), today=TODAY)


def test_samordningsnummer_with_a_future_birth_date_is_refused():
    future = TODAY + timedelta(days=30)
    value = twelve_digit(f"{future:%Y%m}{future.day + 60:02d}")
    with pytest.raises(InvalidNumber):
        normalize_personnummer(value, today=TODAY)


# -- personnummer: refused --------------------------------------------------------------


@pytest.mark.parametrize("value", ["811228-9875", "19811228-9873", "8112289870"])
def test_personnummer_with_wrong_check_digit_is_refused(value):
    with pytest.raises(InvalidNumber):
        normalize_personnummer(value, today=TODAY)


@pytest.mark.parametrize(
    "yyyymmdd",
    ["19810230", "20230229", "19811328", "19810000", "19811200", "19810431"],
)
def test_personnummer_with_an_impossible_date_is_refused(yyyymmdd):
    with pytest.raises(InvalidNumber):
        normalize_personnummer(twelve_digit(yyyymmdd), today=TODAY)


@pytest.mark.parametrize("days_ahead", [1, 200, 365 * 40])
def test_personnummer_with_a_future_birth_date_is_refused(days_ahead):
    future = TODAY + timedelta(days=days_ahead)
    with pytest.raises(InvalidNumber):
        normalize_personnummer(twelve_digit(f"{future:%Y%m%d}"), today=TODAY)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "81122-9874",
        "8112289874123",
        "811228*9874",
        "8112a8-9874",
        "abcdefghij",
        "19811228--9874x",
        "1981122-89874",
    ],
)
def test_personnummer_with_wrong_length_or_characters_is_refused(value):
    with pytest.raises(InvalidNumber):
        normalize_personnummer(value, today=TODAY)


@pytest.mark.parametrize("value", ["²81228-9874", "8112²8-9874"])
def test_personnummer_with_superscript_digits_is_refused_not_crashed(value):
    with pytest.raises(InvalidNumber):
        normalize_personnummer(value, today=TODAY)


def test_personnummer_with_non_ascii_digits_is_refused():
    with pytest.raises(InvalidNumber):
        normalize_personnummer("١٩811228-9874", today=TODAY)


def test_century_of_a_ten_digit_number_follows_the_given_today_not_the_clock():
    # In 2090 a '-' means under 100 by year: 500101- is born in 2050, not 1950.
    value = ten_digit("500101", "000", "-")
    assert normalize_personnummer(value, today=date(2090, 1, 1)).startswith("20500101-")


def test_plus_with_an_earlier_today_means_born_at_least_100_years_before_it():
    value = ten_digit("010101", "000", "+")
    assert normalize_personnummer(value, today=date(2000, 6, 1)).startswith("18010101-")


# -- personnummer: properties -----------------------------------------------------------


def accepted_forms(birth: date, birth_number: str, samordning: bool) -> tuple[str, list[str]]:
    """The normalised number and every form a person may type it in."""
    day = birth.day + 60 if samordning else birth.day
    yymmdd = f"{birth:%y%m}{day:02d}"
    digits = with_check_digit(yymmdd + birth_number)
    century = f"{birth.year // 100}"
    normalised = f"{century}{digits[:6]}-{digits[6:]}"
    forms = [normalised, normalised.replace("-", "")]
    if TODAY.year - birth.year >= 100:
        forms.append(f"{digits[:6]}+{digits[6:]}")
    else:
        forms += [f"{digits[:6]}-{digits[6:]}", digits]
    return normalised, forms


birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
birth_numbers = st.integers(min_value=0, max_value=999).map(lambda n: f"{n:03d}")


@settings(max_examples=200, deadline=None)
@given(birth=birth_dates, birth_number=birth_numbers, samordning=st.booleans())
def test_any_valid_personnummer_round_trips_from_every_accepted_form(
    birth, birth_number, samordning
):
    normalised, forms = accepted_forms(birth, birth_number, samordning)
    for form in forms:
        assert normalize_personnummer(form, today=TODAY) == normalised


@settings(max_examples=200, deadline=None)
@given(
    birth=birth_dates,
    birth_number=birth_numbers,
    samordning=st.booleans(),
    shift=st.integers(min_value=1, max_value=9),
)
def test_any_personnummer_with_a_wrong_check_digit_is_refused_in_every_form(
    birth, birth_number, samordning, shift
):
    _, forms = accepted_forms(birth, birth_number, samordning)
    for form in forms:
        wrong = form[:-1] + str((int(form[-1]) + shift) % 10)
        with pytest.raises(InvalidNumber):
            normalize_personnummer(wrong, today=TODAY)


digit_like = st.text(
    alphabet=st.sampled_from("0123456789-+ ²³¹٣٤"),
    min_size=10,
    max_size=13,
)


@settings(max_examples=200, deadline=None)
@given(value=digit_like)
@example(value="²81228-9874")
def test_personnummer_check_raises_only_invalid_number_for_any_digit_like_text(value):
    try:
        result = normalize_personnummer(value, today=TODAY)
    except InvalidNumber:
        return
    assert result.isascii()


# -- organisationsnummer ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["212000-1850", "2120001850", " 212000-1850 "])
def test_karlstads_orgnr_is_valid_and_normalised(value):
    assert normalize_orgnr(value) == "212000-1850"


@pytest.mark.parametrize("value", ["212000-1851", "212000-1859", "2120001840"])
def test_orgnr_with_wrong_check_digit_is_refused(value):
    with pytest.raises(InvalidNumber):
        normalize_orgnr(value)


@pytest.mark.parametrize("value", ["", "212000-185", "212000-18500", "21200a-1850", "Karlstad"])
def test_orgnr_with_wrong_length_or_characters_is_refused(value):
    with pytest.raises(InvalidNumber):
        normalize_orgnr(value)


# -- postnummer -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["65225", "652 25", " 652 25 ", "SE-652 25"])
def test_postnummer_is_normalised_to_three_space_two(value):
    assert normalize_postnummer(value) == "652 25"


@pytest.mark.parametrize(
    "value", ["", "6522", "652255", "052 25", "00000", "65a25", "652-25x", "Karlstad"]
)
def test_postnummer_that_is_not_five_digits_or_starts_with_zero_is_refused(value):
    with pytest.raises(InvalidNumber):
        normalize_postnummer(value)


@settings(max_examples=200, deadline=None)
@given(number=st.integers(min_value=10000, max_value=99999))
def test_any_five_digit_postnummer_not_starting_with_zero_round_trips(number):
    text = str(number)
    expected = f"{text[:3]} {text[3:]}"
    assert normalize_postnummer(text) == expected
    assert normalize_postnummer(expected) == expected
