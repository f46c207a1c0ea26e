"""The survey's rules that are plain numbers, stated once (no Django: the analysis may import them too).

Models (field defaults, validators, check constraints), services (validation and its messages)
and the create_study command read them from here.
"""

from __future__ import annotations

#: Attention checks a study may have: each asks about a different digit, so at most ten.
MIN_ATTENTION_CHECKS = 0
MAX_ATTENTION_CHECKS = 10
#: A study's attention checks unless told otherwise (the paper's five).
DEFAULT_ATTENTION_CHECKS = 5
#: Attention checks a participant must pass for their answers to count, unless told otherwise (the paper's four of five).
DEFAULT_PASS_THRESHOLD = 4
