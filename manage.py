#!/usr/bin/env python
"""Django's command-line utility for the NormLIME study platform."""

import sys


def main() -> None:
    from config.boot import load_settings_or_exit

    load_settings_or_exit("manage.py")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
