"""What several areas share, each rule in one module named after it.

time (Nairobi time, months), money (typed amounts, display), phones, tabular (CSV/XLSX
uploads and exports), db (column types, upsert, settings rows), pdf (fonts, tables, QR).
Core imports no area: areas import core.
"""
