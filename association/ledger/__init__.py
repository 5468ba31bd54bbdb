"""The dues ledger: accounts, journal, dues, receipts, expenses, reports (its own issue)."""
