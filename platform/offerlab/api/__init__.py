"""HTTP JSON layer (Flask): validation and mapping only; the work happens in services."""
