"""M-Pesa: paybill and STK push payments, callbacks, reconciliation, imports."""
