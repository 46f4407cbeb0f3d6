"""What the chat may do and how it is worded: the service, its views, the rendering, reports, manual trading, cards."""
