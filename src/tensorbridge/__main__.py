"""``python -m tensorbridge``: the same as the ``tensorbridge`` command."""

from tensorbridge.cli.main import main

if __name__ == "__main__":
    main()
