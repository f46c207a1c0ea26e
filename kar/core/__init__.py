"""The pure core of KAR (no Django, no ORM): plain NumPy/PyTorch and files.

Modules, lowest first (each imports only those above it):
``errors`` -> ``masking`` -> ``spaces`` -> ``rankings`` -> ``cells`` -> ``spec`` -> ``store`` -> ``runner``
-> ``report``. Importing this package imports none of them (they load torch).
"""
