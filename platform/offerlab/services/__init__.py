"""Use cases: one transaction each, orchestrating the domain and storage; no Flask here."""
