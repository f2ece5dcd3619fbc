"""offerlab storefront SDK."""
