"""survey.sheets: the balanced Latin square and the per-participant sheet plan (no database)."""

import random
from collections import Counter
from itertools import pairwise

import pytest

from survey.sheets import deal_rows, plan_sheet, williams_square

REAL = [(100 + i, i // 2) for i in range(20)]  # (item id, digit): every digit twice
CHECKS = [200, 201, 202, 203, 204]


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_the_williams_square_is_latin_and_balanced_for_carry_over(n):
    rows = williams_square(n)
    for row in rows:
        assert sorted(row) == list(range(n))
    for column in zip(*rows):
        assert Counter(column) == Counter({x: len(rows) // n for x in range(n)})
    follows = Counter(pair for row in rows for pair in pairwise(row))
    assert set(follows) == {(a, b) for a in range(n) for b in range(n) if a != b}
    assert len(set(follows.values())) == 1


def test_the_order_4_square_is_the_textbook_one():
    assert williams_square(4) == [[0, 1, 3, 2], [1, 2, 0, 3], [2, 3, 1, 0], [3, 0, 2, 1]]


def test_dealt_rows_put_every_method_in_every_position_equally_often():
    for seed in range(50):
        rows = deal_rows([d for _, d in REAL], 4, random.Random(seed))
        for position in range(4):
            assert Counter(row[position] for row in rows) == {m: 5 for m in range(4)}


def test_a_digit_shown_twice_never_shows_the_methods_in_the_same_places_twice():
    for seed in range(50):
        rows = deal_rows([d for _, d in REAL], 4, random.Random(seed))
        for digit in range(10):
            assert rows[2 * digit] != rows[2 * digit + 1]


def test_dealing_refuses_a_number_of_questions_the_rows_cannot_share_equally():
    with pytest.raises(ValueError, match="equally often"):
        deal_rows(list(range(10)), 4, random.Random(0))


def test_a_sheet_holds_every_item_once_at_positions_1_to_25():
    plan = plan_sheet(REAL, CHECKS, 4, random.Random(3))
    assert [e.position for e in plan] == list(range(1, 26))
    assert sorted(e.item_id for e in plan) == sorted([i for i, _ in REAL] + CHECKS)
    for entry in plan:
        assert sorted(entry.slots) == [0, 1, 2, 3]


def test_a_sheet_balances_methods_over_positions():
    plan = plan_sheet(REAL, CHECKS, 4, random.Random(7))
    real_ids = {i for i, _ in REAL}
    per_position = [Counter(e.slots[p] for e in plan if e.item_id in real_ids) for p in range(4)]
    assert all(counts == {m: 5 for m in range(4)} for counts in per_position)


def test_the_same_seed_gives_the_same_sheet_and_other_seeds_other_orders():
    assert plan_sheet(REAL, CHECKS, 4, random.Random(11)) == plan_sheet(REAL, CHECKS, 4, random.Random(11))
    orders = {tuple(e.item_id for e in plan_sheet(REAL, CHECKS, 4, random.Random(s))) for s in range(20)}
    assert len(orders) == 20


def test_attention_checks_land_anywhere_in_the_order():
    places = Counter()
    for seed in range(200):
        for entry in plan_sheet(REAL, CHECKS, 4, random.Random(seed)):
            if entry.item_id in CHECKS:
                places[entry.position] += 1
    assert set(places) == set(range(1, 26))


# --- studies of k methods ---------------------------------------------------------------------------


def test_the_order_3_square_is_the_cyclic_square_and_its_mirror():
    """Odd k: the k cyclic rows of 0, 1, 2 and the same rows reversed, 2k = 6 rows in all."""
    assert williams_square(3) == [[0, 1, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0], [0, 2, 1], [1, 0, 2]]


def test_the_order_6_square_starts_0_1_5_2_4_3_and_adds_one_per_row():
    assert williams_square(6) == [
        [0, 1, 5, 2, 4, 3],
        [1, 2, 0, 3, 5, 4],
        [2, 3, 1, 4, 0, 5],
        [3, 4, 2, 5, 1, 0],
        [4, 5, 3, 0, 2, 1],
        [5, 0, 4, 1, 3, 2],
    ]


@pytest.mark.parametrize("k, per_cell", [(3, 10), (6, 5)])
def test_thirty_questions_put_each_of_k_methods_in_each_position_30_over_k_times(k, per_cell):
    """k = 3: 6 rows dealt 5 times each, each method twice per column -> 10 = 30 / 3 per position.
    k = 6: 6 rows dealt 5 times each, each method once per column -> 5 = 30 / 6 per position."""
    digits = [i // 3 for i in range(30)]  # every digit three times
    for seed in range(20):
        rows = deal_rows(digits, k, random.Random(seed))
        assert len(set(map(tuple, rows))) == 6 and set(Counter(map(tuple, rows)).values()) == {5}
        for position in range(k):
            assert Counter(row[position] for row in rows) == {m: per_cell for m in range(k)}
        # a digit shown three times never shows the methods in the same places twice
        for digit in range(10):
            assert len({tuple(rows[3 * digit + r]) for r in range(3)}) == 3


def test_a_sheet_of_three_methods_balances_them_over_positions():
    real = [(100 + i, i // 3) for i in range(30)]
    plan = plan_sheet(real, CHECKS, 3, random.Random(5))
    real_ids = {item_id for item_id, _ in real}
    slots = [p.slots for p in plan if p.item_id in real_ids]
    assert all(sorted(s) == [0, 1, 2] for s in slots)
    assert all(Counter(s[position] for s in slots) == {0: 10, 1: 10, 2: 10} for position in range(3))
    assert all(len(p.slots) == 3 for p in plan)  # attention checks too
