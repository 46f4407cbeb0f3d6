"""Position care: orders sent, positions kept protected, stops walked (also in real time), closes read from the exchange."""
