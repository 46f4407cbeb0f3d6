"""How big and where: risk sizing, instrument rounding, the entry's execution settings, stops given by hand."""
