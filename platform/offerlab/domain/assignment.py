"""Assignment in the service: the SDK's evaluation is the one implementation of the spec."""

from offerlab_sdk.assignment import Assignment, Reason
from offerlab_sdk.evaluate import evaluate, offer_for

__all__ = ["Assignment", "Reason", "evaluate", "offer_for"]
