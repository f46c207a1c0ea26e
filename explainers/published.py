"""What the NormLIME paper publishes, stated once (pure Python: no Django, no torch).

The human study's numbers ("Results and Discussion" of "Human Evaluation") and the
KAR results the paper states in words ("Numerical Evaluation with KAR"). The votes
per method are the registry's (``Method.paper_votes``); the analysis report and the
KAR report compare a run with these.
"""

from __future__ import annotations

from .methods import registry

#: The human study: 83 surveys kept, the vote totals, the one-way ANOVA and Tukey's verdict.
STUDY = {
    "surveys": 83,
    "votes": {name: registry.get(name).paper_votes for name in registry.names(paper=True)},  # 939 / 438 / 132 / 151
    "F": 338.0,
    "df": (3, 328),
    "p_text": "5.22e-100",
    "tukey": "NormLIME differs from every other method, and LIME from SmoothGrad and VarGrad (p < 0.001)",
}
STUDY_VOTES = sum(STUDY["votes"].values())  # 1,660 = 83 x 20

#: KAR, in error gain (percentage points): (feature set, method, threshold) -> (gain, how the paper says it).
KAR = {
    ("pixels", "normlime", 50): (0.0, "0 % error gain at 50 % removed (the best of all)"),
    ("pixels", "shap", 50): (0.0, "matches NormLIME at 50 %"),
    ("pixels", "vargrad", 20): (0.0, "0 % at 20 %"),
    ("conv", "normlime", 30): (-0.25, "99.31 % accuracy vs the 99.06 % baseline (best of all)"),
    ("conv", "lime", 40): (-0.04, "99.1 % accuracy at 40 %"),
    ("conv", "normlime", 80): (0.0, "0 error gain at 80 %"),
    ("conv", "lime", 80): (0.3, "0.3 % at 80 %"),
    ("conv", "normlime", 90): (0.45, "0.45 % at 90 %"),
    ("conv", "lime", 90): (0.6, "0.6 % at 90 %"),
}
KAR_CONV_90_OTHERS = 1.25  # "all others receive at least 1.25 %" (conv, 90 %)
