"""The composition root: exchange selection, the PTB Application build, start/stop; bot.py calls wiring.run."""
