"""The pure core: experiments, assignment, allocation policies and statistics.

Nothing here does IO, reads the clock or the environment, or imports Flask, SQLAlchemy or pydantic.
"""
