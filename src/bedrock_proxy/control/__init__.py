"""The control plane's storage: keys, teams, users and budgets, and the compact spend ledger.

records.py is the vocabulary, store.py the contract; sqlite.py, postgres.py and mysql.py implement it on
one shared SQL core (sql.py) and one list of schema migrations (migrations.py); location.py picks the
backend from the database URL.
"""
