"""``python -m tradebot.sim …`` (the fixed command line): runs the simulator's CLI, which lives in ``proving.sim``."""

if __name__ == "__main__":
    import sys

    from proving.sim.__main__ import main

    sys.exit(main())
