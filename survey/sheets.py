"""Planning a participant's sheet: question order and which option sits at which position.

Plain Python, no Django: the service stores what these functions decide. Randomness comes in
through a ``random.Random`` so a sheet can be redrawn from its stored seed for checking.

Real questions use a balanced Latin square (Williams design): each row of the square is an
ordering of the methods, every method appears once in every position across the rows, and
every method directly follows every other exactly once. Rows are dealt to questions equally
often, so over a participant's real questions each method sits in each position equally often.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PlannedEntry:
    position: int  # 1-based place in the participant's order
    item_id: int
    slots: tuple[int, ...]  # slots[p - 1] is the canonical option slot shown at position p


def williams_square(n: int) -> list[list[int]]:
    """A balanced Latin square of order ``n`` (n rows for even n, 2n rows for odd n)."""
    if n < 1:
        raise ValueError("n must be positive")
    # First row 0, 1, n-1, 2, n-2, ...; each further row adds 1 (mod n).
    first: list[int] = [0]
    low, high = 1, n - 1
    for i in range(1, n):
        if i % 2 == 1:
            first.append(low)
            low += 1
        else:
            first.append(high)
            high -= 1
    rows = [[(x + shift) % n for x in first] for shift in range(n)]
    if n % 2 == 1:  # odd orders need the mirrored rows too for carry-over balance
        rows += [list(reversed(row)) for row in rows]
    return rows


def square_rows(n: int) -> int:
    """Rows of :func:`williams_square` of order ``n``: a study's real questions are a multiple of it."""
    return n if n % 2 == 0 else 2 * n


def deal_rows(digits: Sequence[int], n_methods: int, rng: random.Random, max_tries: int = 10_000) -> list[list[int]]:
    """Give each real question a row of method indices, every row equally often.

    ``digits[i]`` is question i's digit; questions of the same digit get different rows where
    possible, so a digit shown twice never shows the methods in the same places twice.
    """
    square = williams_square(n_methods)
    if len(digits) % len(square):
        raise ValueError(f"{len(digits)} real questions cannot use the {len(square)} rows equally often")
    labels = list(range(n_methods))
    rng.shuffle(labels)  # which method is "method 0" of the square: randomised per participant
    square = [[labels[x] for x in row] for row in square]
    row_ids = [r for r in range(len(square)) for _ in range(len(digits) // len(square))]
    for _ in range(max_tries):
        rng.shuffle(row_ids)
        if _repeats_apart(digits, row_ids):
            break
    # If no deal keeps repeated digits apart (more repeats than rows), the last shuffle still
    # balances positions, which is the property that matters.
    return [list(square[r]) for r in row_ids]


def _repeats_apart(digits: Sequence[int], row_ids: Sequence[int]) -> bool:
    rows_of_digit: dict[int, set[int]] = {}
    for digit, row in zip(digits, row_ids):
        used = rows_of_digit.setdefault(digit, set())
        if row in used:
            return False
        used.add(row)
    return True


def plan_sheet(
    real_items: Sequence[tuple[int, int]],
    attention_items: Sequence[int],
    n_options: int,
    rng: random.Random,
) -> list[PlannedEntry]:
    """A participant's sheet.

    ``real_items``: (item id, digit) of each real question, whose option slot i holds method i.
    ``attention_items``: ids of the attention checks (their slots are shuffled freely).
    Returns one entry per item, in the random order the participant will see them.
    """
    rows = deal_rows([digit for _, digit in real_items], n_options, rng) if real_items else []
    entries: list[tuple[int, tuple[int, ...]]] = [(item_id, tuple(row)) for (item_id, _), row in zip(real_items, rows)]
    for item_id in attention_items:
        slots = list(range(n_options))
        rng.shuffle(slots)
        entries.append((item_id, tuple(slots)))
    rng.shuffle(entries)
    return [PlannedEntry(position=i + 1, item_id=item_id, slots=slots) for i, (item_id, slots) in enumerate(entries)]
