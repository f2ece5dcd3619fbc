"""offerlab: A/B experiments and bandits for upsell and cross-sell offers."""

__version__ = "0.1.0"
